import { geminiAccountRoutes } from '../../../admin/account-routes'

export default geminiAccountRoutes.create
