import { anthropicNotFound } from '../../protocols/anthropic/handler'

// Anything else under /api/v1 answers in Anthropic's error shape, never an HTML page.
export default anthropicNotFound
