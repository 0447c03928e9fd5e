// CRS-compatible alias of /api/v1/models
export { default } from '../../../api/v1/models'
