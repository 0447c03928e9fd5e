import { useConfig } from '../config'
import { useLogger } from '../logging'
import { PoolManager, type PooledAccount } from '../upstream/pool-manager'
import type { Account } from './store'

let manager: PoolManager | undefined

/** The process's connection-pool manager (configured from POOL_* and UPSTREAM_CA_FILE). */
export function usePools(): PoolManager {
  if (!manager) {
    const cfg = useConfig()
    manager = new PoolManager({ ...cfg.pools, caFile: cfg.upstreamCaFile }, (level, fields, msg) => useLogger()[level](fields, msg))
  }
  return manager
}

/**
 * The upstream origin an account's requests go to: Claude's API (or the account's apiUrl); a
 * Gemini API key's Generative Language API (or its baseUrl); a Gemini OAuth account's Code Assist.
 */
function upstreamBase(a: Account): string {
  const cfg = useConfig()
  if (a.platform === 'claude') return a.apiUrl || cfg.claude.apiUrl
  return a.type === 'oauth' ? cfg.gemini.codeAssistUrl : a.apiUrl || cfg.gemini.apiUrl
}

/** What the pool manager needs of an account: the origin it talks to and its proxy. */
export function pooledOf(a: Account): PooledAccount {
  return { id: a.id, platform: a.platform, name: a.name, isActive: a.isActive, proxy: a.proxy, origin: new URL(upstreamBase(a)).origin, version: a.updatedAt }
}

/** Close the manager (shutdown); a later use makes a new one. */
export async function closePools(): Promise<void> {
  const m = manager
  manager = undefined
  await m?.close()
}
