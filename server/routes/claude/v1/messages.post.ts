// CRS-compatible alias of /api/v1/messages.post
export { default } from '../../../api/v1/messages.post'
