import { checkAccess } from '../../keys/access'
import { claudeModelList } from '../../usage/models'

// The models this key may use: its platform and client are checked, its model lists filter.
export default defineAnthropicHandler(async (event) => {
  const key = await requireClientKey(event.node.req)
  const ua = event.node.req.headers['user-agent']
  const denied = checkAccess({ ...key, allowedModels: [], blockedModels: [] }, 'claude', '', ua)
  if (denied) throw new AnthropicError(403, 'permission_error', denied.message)
  return claudeModelList(id => !checkAccess(key, 'claude', id, ua))
}, 'GET')
