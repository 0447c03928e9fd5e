import { claudeModelList } from '../../usage/models'

export default defineAnthropicHandler(async (event) => {
  await requireClientKey(event.node.req)
  return claudeModelList()
}, 'GET')
