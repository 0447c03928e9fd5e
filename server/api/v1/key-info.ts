import { keyInfo } from '../../keys/info'

export default defineAnthropicHandler(async (event) => {
  const key = await requireClientKey(event.node.req)
  return keyInfo(useRedis(), key)
}, 'GET')
