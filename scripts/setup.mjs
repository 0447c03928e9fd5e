#!/usr/bin/env node
// First-run setup: make sure the env file exists and holds the three secrets the server needs.
// Existing values are never overwritten (changing ENCRYPTION_KEY or API_KEY_SALT would make
// stored secrets and keys unusable). Uses only Node built-ins so it runs before `npm install`
// finishes building anything and inside the Docker image.
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const GENERATORS = {
  JWT_SECRET: () => randomBytes(32).toString('hex'), // 64 chars (≥ 32 required)
  ENCRYPTION_KEY: () => randomBytes(16).toString('hex'), // exactly 32 chars
  API_KEY_SALT: () => randomBytes(32).toString('hex'),
}

/** Names that have a non-empty value in an env file's text (comments ignored). */
export function definedNames(text) {
  const names = new Set()
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line)
    if (m && m[2].replace(/^["']|["']$/g, '').trim() !== '') names.add(m[1])
  }
  return names
}

/**
 * Create `envFile` from `.env.example` when missing, then append any secret that is set neither
 * in the file nor in the process environment. The file it creates or fills in is made readable by
 * its owner only (0600); an existing readable-by-others file it leaves alone gets a warning.
 * Returns the names it generated.
 */
export function ensureSecrets(envFile, { root = process.cwd(), env = process.env, log = console.log } = {}) {
  const example = resolve(root, '.env.example')
  if (!existsSync(envFile)) {
    // Created 0600 from the start ('wx': never over a file that appeared meanwhile); copying
    // .env.example would carry over its world-readable mode.
    writeFileSync(envFile, existsSync(example) ? readFileSync(example) : '', { mode: 0o600, flag: 'wx' })
    log(`[setup] created ${envFile}`)
  }
  let text = readFileSync(envFile, 'utf8')
  const present = definedNames(text)
  const generated = Object.keys(GENERATORS).filter(name => !present.has(name) && !env[name])
  for (const name of generated) {
    const line = `${name}=${GENERATORS[name]()}`
    // Fill an empty `NAME=` line in place (as .env.example has them); else append.
    const empty = new RegExp(`^\\s*${name}\\s*=\\s*(""|'')?\\s*$`, 'm')
    text = empty.test(text) ? text.replace(empty, line) : `${text.replace(/\n?$/, '\n')}${line}\n`
  }
  if (generated.length) {
    // Tighten before the secrets are written (writeFileSync's mode applies only to new files).
    chmodSync(envFile, 0o600)
    writeFileSync(envFile, text, { mode: 0o600 })
    log(`[setup] generated ${generated.join(', ')} into ${envFile} — keep them secret and never change them`)
  }
  else if (process.platform !== 'win32' && Object.keys(GENERATORS).some(n => present.has(n)) && (statSync(envFile).mode & 0o077) !== 0) {
    log(`[setup] ${envFile} can be read by other users and holds secrets: run chmod 600 ${envFile}`)
  }
  return generated
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  ensureSecrets(resolve(process.env.CRS_ENV_FILE || '.env'))
}
