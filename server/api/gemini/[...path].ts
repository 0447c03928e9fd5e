// Gemini's standard API (v1beta / v1) and Gemini CLI's Code Assist calls (v1internal:*).
export default defineGeminiHandler(event => relayGemini(event, getRouterParam(event, 'path') ?? ''))
