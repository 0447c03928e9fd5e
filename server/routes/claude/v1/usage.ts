// CRS-compatible alias of /api/v1/usage
export { default } from '../../../api/v1/usage'
