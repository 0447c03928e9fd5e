// CRS-compatible alias of /api/v1/models.get
export { default } from '../../../api/v1/models.get'
