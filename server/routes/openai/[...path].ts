// Anything else under /openai answers in OpenAI's error shape, never an HTML page.
export default openaiNotFound
