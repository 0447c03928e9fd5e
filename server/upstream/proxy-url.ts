/** Parse and check a proxy URL; returns the normalised URL or throws with what is wrong. */
export function parseProxyUrl(raw: string): URL {
  let u: URL
  try {
    u = new URL(raw)
  }
  catch {
    throw new Error('proxy must be a URL such as socks5://user:pass@host:1080 or http://host:8080')
  }
  if (!['socks5:', 'socks5h:', 'http:', 'https:'].includes(u.protocol)) {
    throw new Error(`proxy scheme must be socks5, socks5h, http or https (got ${u.protocol.replace(':', '')})`)
  }
  if (!u.hostname || !explicitPort(raw, u)) throw new Error('proxy needs a host and a port, e.g. socks5://host:1080')
  return u
}

/** The port as written: WHATWG URLs drop :80 / :443 for http(s), but a proxy URL may name them. */
function explicitPort(raw: string, u: URL): string {
  return u.port || /^[a-z0-9+.-]+:\/\/(?:[^@/]*@)?(?:\[[^\]]*\]|[^:/]*):(\d+)/i.exec(raw)?.[1] || ''
}

/** The proxy URL with its password replaced, safe for logs, errors and admin views. */
export function redactProxyUrl(raw: string | null): string | null {
  if (!raw) return null
  try {
    const u = new URL(raw)
    const auth = u.username ? `${u.username}${u.password ? ':***' : ''}@` : ''
    const port = explicitPort(raw, u)
    return `${u.protocol}//${auth}${u.host.replace(/:\d+$/, '')}${port ? `:${port}` : ''}`
  }
  catch {
    return 'invalid proxy URL'
  }
}
