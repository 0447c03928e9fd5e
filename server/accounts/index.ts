import { useConfig } from '../config'
import { publish, subscribe, useRedis } from '../store/redis'
import { channels } from '../store/keys'
import { dropDispatcher } from '../upstream/dispatchers'
import * as claude from './claude'
import { AccountPool } from './scheduler'

export type { ClaudeAccount, ClaudeAccountInput } from './claude'

let pool: AccountPool<claude.ClaudeAccount> | undefined

function useClaudePool(): AccountPool<claude.ClaudeAccount> {
  if (!pool) {
    const p = new AccountPool(() => claude.listClaudeAccounts(useRedis(), useConfig().secrets.encryptionKey))
    subscribe(channels.invalidate, (msg) => {
      if (msg.startsWith('claude_account:')) {
        p.invalidate()
        dropDispatcher(msg.slice('claude_account:'.length))
      }
    })
    pool = p
  }
  return pool
}

async function changed(id: string): Promise<void> {
  useClaudePool().invalidate()
  dropDispatcher(id)
  await publish(channels.invalidate, `claude_account:${id}`)
}

const enc = () => useConfig().secrets.encryptionKey

/** Claude accounts: admin CRUD and the scheduler's pick (cached; no Redis round trip). */
export const claudeAccounts = {
  async create(input: claude.ClaudeAccountInput) {
    const account = await claude.createClaudeAccount(useRedis(), enc(), input)
    await changed(account.id)
    return account
  },
  get: (id: string) => claude.getClaudeAccount(useRedis(), enc(), id),
  list: () => claude.listClaudeAccounts(useRedis(), enc()),
  async update(id: string, patch: Partial<claude.ClaudeAccountInput>) {
    const next = await claude.updateClaudeAccount(useRedis(), enc(), id, patch)
    if (next) await changed(id)
    return next
  },
  async remove(id: string) {
    const gone = await claude.deleteClaudeAccount(useRedis(), id)
    if (gone) await changed(id)
    return gone
  },
  pick: () => useClaudePool().pick(),
  /** The key's dedicated account when it has one (no pool fallback), else the pool's pick. */
  async pickFor(key: { claudeAccountId: string | null }) {
    if (!key.claudeAccountId) return useClaudePool().pick()
    const bound = (await useClaudePool().all()).find(a => a.id === key.claudeAccountId && a.isActive)
    return bound ?? null
  },
  toView: claude.toAccountView,
}
