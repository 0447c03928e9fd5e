// CRS-compatible alias of /api/v1/messages
export { default } from '../../../api/v1/messages'
