// Auto-imported entry points for route handlers. The engine lives in the explicit-import folders
// (server/keys, server/accounts, …); this file only names what handlers may call.
export { useConfig } from '../config'
export { useRedis } from '../store/redis'
export { useLogger } from '../logging'
export { apiKeys } from '../keys'
export { claudeAccounts } from '../accounts'
export { relayAnthropic, requireClientKey } from '../protocols/anthropic/relay'
export { AnthropicError, defineAnthropicHandler } from '../protocols/anthropic/handler'
export { readKeyUsage } from '../usage/record'
export { asHttpError } from '../admin/http-errors'
export { pricing } from '../usage/pricing-store'
export { ApiKeyCreateSchema, ApiKeyUpdateSchema, ClaudeAccountCreateSchema, ClaudeAccountUpdateSchema, IdParamsSchema, ApiKeyListQuerySchema, GenerateAuthUrlSchema, ExchangeCodeSchema, validate } from '../admin/schemas'
