// CRS-compatible alias of /api/v1/key-info
export { default } from '../../../api/v1/key-info'
