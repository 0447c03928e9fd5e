// CRS-compatible alias of /api/v1/key-info.get
export { default } from '../../../api/v1/key-info.get'
