// CRS-compatible alias of /api/v1/usage.get
export { default } from '../../../api/v1/usage.get'
