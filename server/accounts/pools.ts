import { useConfig } from '../config'
import { useLogger } from '../logging'
import { PoolManager, type PooledAccount } from '../upstream/pool-manager'
import type { ClaudeAccount } from './claude'

let manager: PoolManager | undefined

/** The process's connection-pool manager (configured from POOL_* and UPSTREAM_CA_FILE). */
export function usePools(): PoolManager {
  if (!manager) {
    const cfg = useConfig()
    manager = new PoolManager({ ...cfg.pools, caFile: cfg.upstreamCaFile }, (level, fields, msg) => useLogger()[level](fields, msg))
  }
  return manager
}

/** What the pool manager needs of a Claude account: the origin it talks to and its proxy. */
export function claudePooled(a: ClaudeAccount): PooledAccount {
  return { id: a.id, platform: 'claude', name: a.name, isActive: a.isActive, proxy: a.proxy, origin: new URL(a.apiUrl || useConfig().claude.apiUrl).origin, version: a.updatedAt }
}

/** Close the manager (shutdown); a later use makes a new one. */
export async function closePools(): Promise<void> {
  const m = manager
  manager = undefined
  await m?.close()
}
