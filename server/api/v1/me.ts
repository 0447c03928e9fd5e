import { keyInfo } from '../../keys/info'

// Same view as /key-info, under the name some clients probe.
export default defineAnthropicHandler(async (event) => {
  const key = await requireClientKey(event.node.req)
  return keyInfo(useRedis(), key)
}, 'GET')
