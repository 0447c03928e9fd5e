// CRS-compatible alias of /api/v1/messages/count_tokens.post
export { default } from '../../../../api/v1/messages/count_tokens.post'
