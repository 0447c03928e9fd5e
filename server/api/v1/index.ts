import { anthropicNotFound } from '../../protocols/anthropic/handler'

// `/api/v1` itself (also what `/api/v1/%3F…` routes to): Anthropic's 404, never Nitro's.
export default anthropicNotFound
