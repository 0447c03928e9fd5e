// `/gemini` itself (also what `/gemini/%3F…` routes to): Google's 404, never an HTML page.
export default defineGeminiHandler(event => relayGemini(event, ''))
