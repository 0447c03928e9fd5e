import { claudeAccountRoutes } from '../../../../admin/account-routes'

export default claudeAccountRoutes.refresh
