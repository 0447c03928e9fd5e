import { anthropicNotFound } from '../../protocols/anthropic/handler'

// Anything else under /claude answers in Anthropic's error shape, never an HTML page.
export default anthropicNotFound
