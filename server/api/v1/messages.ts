// Claude Messages API relay (also answers ?beta=true, as Claude Code sends it).
export default defineAnthropicHandler(event => relayAnthropic(event, { path: '/v1/messages', record: true }), 'POST')
