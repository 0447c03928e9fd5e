// Auto-imported for route handlers; the guard lives with the rest of admin auth (server/admin).
export { requireAdmin } from '../admin/guard'
