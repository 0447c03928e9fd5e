// Alias of /api/gemini/** (what GOOGLE_GEMINI_BASE_URL=http://HOST:3000/gemini points at).
export default defineGeminiHandler(event => relayGemini(event, getRouterParam(event, 'path') ?? ''))
