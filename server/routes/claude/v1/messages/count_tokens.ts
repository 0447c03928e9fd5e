// CRS-compatible alias of /api/v1/messages/count_tokens
export { default } from '../../../../api/v1/messages/count_tokens'
