export default defineAnthropicHandler(event => relayAnthropic(event, { path: '/v1/messages/count_tokens', record: false }), 'POST')
