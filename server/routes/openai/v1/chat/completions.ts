// What OPENAI_BASE_URL=http://HOST:3000/openai/v1 points at: the same as /api/v1/chat/completions.
export { default } from '../../../../api/v1/chat/completions'
