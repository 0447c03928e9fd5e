// OpenAI chat completions into Claude (claude-*) or Gemini (gemini-*) accounts.
export default defineOpenAIHandler(event => relayChatCompletion(event, { platform: null }), 'POST')
