import { LogStreamQuerySchema } from '../../../admin/schemas'
import { useLogRing } from '../../../logging'
import { levelNumber } from '../../../logging/ring'

// Live log tail as server-sent events: the last `tail` lines, then each new line at `level` or above.
export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { level, tail } = await getValidatedQuery(event, validate(LogStreamQuerySchema))
  const min = levelNumber(level)
  const ring = useLogRing()
  const { res } = event.node
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no', 'connection': 'keep-alive' })
  res.flushHeaders()
  const send = (line: object) => res.write(`data: ${JSON.stringify(line)}\n\n`)
  for (const line of ring.recent(tail, min)) send(line)
  const unsubscribe = ring.subscribe((line) => {
    if (line.level >= min) send(line)
  })
  // A comment every 15 s keeps proxies from closing an idle stream.
  const ping = setInterval(() => res.write(': ping\n\n'), 15_000)
  await new Promise<void>(resolve => res.once('close', resolve))
  clearInterval(ping)
  unsubscribe()
})
