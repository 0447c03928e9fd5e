// CRS-compatible alias: chat completions into Gemini accounts only.
export default defineOpenAIHandler(event => relayChatCompletion(event, { platform: 'gemini' }), 'POST')
