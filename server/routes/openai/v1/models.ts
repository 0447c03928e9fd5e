// The models this key may use, in OpenAI's list shape.
export default defineOpenAIHandler(event => openaiModelList(event.node.req), 'GET')
