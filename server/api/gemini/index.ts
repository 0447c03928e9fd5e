// `/api/gemini` itself (also what `/api/gemini/%3F…` routes to): Google's 404, never Nitro's.
export default defineGeminiHandler(event => relayGemini(event, ''))
