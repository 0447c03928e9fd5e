import { join } from 'node:path'
import { useConfig } from '../config'
import { useLogger } from '../logging'
import { timeRedis } from '../metrics'
import { isStoreOutage, useRedis } from '../store/redis'
import { UsageJournal } from './journal'
import { recordUsage } from './record'

let journal: UsageJournal | undefined

/** The process's usage journal: records go to Redis through it (server/usage/journal.ts). */
export function useJournal(): UsageJournal {
  if (!journal) {
    const cfg = useConfig()
    journal = new UsageJournal((e, retry) => timeRedis('record', () => recordUsage(useRedis(), e, retry, cfg.stickyTtlMs)), {
      maxInMemory: cfg.usageQueueMax,
      spillFile: join(cfg.dataDir, 'usage-journal.jsonl'),
      isOutage: isStoreOutage,
      onDrop: (e, err) => useLogger().error({ err, reqId: e.requestId, keyId: e.keyId }, 'usage record refused by Redis (not an outage): dropped'),
    })
  }
  return journal
}

/** Records waiting for Redis (for /health and /metrics); zeros before the first record. */
export const usageBacklog = () => journal?.backlog ?? { queued: 0, spilled: 0 }
