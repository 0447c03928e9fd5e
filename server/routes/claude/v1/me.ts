// CRS-compatible alias of /api/v1/me
export { default } from '../../../api/v1/me'
