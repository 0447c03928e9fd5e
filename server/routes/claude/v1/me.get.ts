// CRS-compatible alias of /api/v1/me.get
export { default } from '../../../api/v1/me.get'
