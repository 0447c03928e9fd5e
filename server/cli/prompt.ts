import { CliError, UsageError } from './args'

type Input = NodeJS.ReadableStream & { isTTY?: boolean, setRawMode?: (raw: boolean) => unknown }

/** Read a line from a terminal without echoing it (raw mode; Ctrl-C aborts). */
function readHidden(input: Input, prompt: string, echo: NodeJS.WritableStream): Promise<string> {
  // Raw mode before the prompt appears: whatever is typed after it is never echoed.
  input.setRawMode?.(true)
  echo.write(prompt)
  input.resume()
  input.setEncoding('utf8')
  return new Promise((resolve, reject) => {
    let text = ''
    const done = (err?: Error) => {
      input.removeListener('data', onData)
      input.setRawMode?.(false)
      input.pause()
      echo.write('\n')
      if (err) reject(err)
      else resolve(text)
    }
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done()
        if (ch === '\u0003') return done(new CliError('cancelled'))
        if (ch === '\u007F' || ch === '\b') text = text.slice(0, -1)
        else if (ch >= ' ') text += ch
      }
    }
    input.on('data', onData)
  })
}

/** The first line of a piped stdin (`echo pw | … admin create`). */
async function readFirstLine(input: Input): Promise<string> {
  let text = ''
  for await (const chunk of input) {
    text += chunk.toString()
    if (text.includes('\n')) break
  }
  return text.split(/\r?\n/)[0] ?? ''
}

/**
 * A new admin password: `given` (from --password), else asked twice on a terminal, else the first
 * line of stdin. At least 8 characters, as the admin API requires.
 */
export async function newPassword(given: string | undefined, input: Input, echo: NodeJS.WritableStream, usage: string): Promise<string> {
  let pw = given
  if (pw === undefined) {
    if (input.isTTY) {
      pw = await readHidden(input, 'New password: ', echo)
      if (await readHidden(input, 'Repeat it: ', echo) !== pw) throw new CliError('the two passwords differ')
    }
    else {
      pw = await readFirstLine(input)
      if (!pw) throw new UsageError('no password: pass --password, type it on a terminal, or pipe it on stdin', usage)
    }
  }
  if (pw.length < 8) throw new UsageError(`the password must be at least 8 characters (got ${pw.length})`, usage)
  if (pw.length > 1000) throw new UsageError('the password must be at most 1000 characters', usage)
  return pw
}

/** A secret (a token): asked once on a terminal without echo, else the first line of stdin — never from the command line. */
export async function secretInput(input: Input, echo: NodeJS.WritableStream, prompt: string, usage: string): Promise<string> {
  const value = (input.isTTY ? await readHidden(input, prompt, echo) : await readFirstLine(input)).trim()
  if (!value) throw new UsageError('no token: type it at the prompt, or pipe it on stdin', usage)
  return value
}
