import { usePools } from '../accounts/pools'

// Per-account pool state for admins: open/idle/busy connections, errors, handshake and request latency.
export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  return usePools().state()
})
