#!/usr/bin/env node
// First-run setup: make sure the env file exists and holds the three secrets the server needs.
// Existing values are never overwritten (changing ENCRYPTION_KEY or API_KEY_SALT would make
// stored secrets and keys unusable). Uses only Node built-ins so it runs before `npm install`
// finishes building anything and inside the Docker image.
import { randomBytes } from 'node:crypto'
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
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
 * in the file nor in the process environment. Returns the names it generated.
 */
export function ensureSecrets(envFile, { root = process.cwd(), env = process.env, log = console.log } = {}) {
  const example = resolve(root, '.env.example')
  if (!existsSync(envFile)) {
    if (existsSync(example)) copyFileSync(example, envFile)
    else writeFileSync(envFile, '')
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
    writeFileSync(envFile, text, { mode: 0o600 })
    log(`[setup] generated ${generated.join(', ')} into ${envFile} — keep them secret and never change them`)
  }
  return generated
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  ensureSecrets(resolve(process.env.CRS_ENV_FILE || '.env'))
}
