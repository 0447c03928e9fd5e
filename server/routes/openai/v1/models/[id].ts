// One model this key may use, or OpenAI's 404 `model_not_found`.
export default defineOpenAIHandler(event => openaiModel(event.node.req, getRouterParam(event, 'id') ?? ''), 'GET')
