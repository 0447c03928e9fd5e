// CRS-compatible alias: chat completions into Claude accounts only.
export default defineOpenAIHandler(event => relayChatCompletion(event, { platform: 'claude' }), 'POST')
