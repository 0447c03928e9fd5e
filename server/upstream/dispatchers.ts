import { Agent, type Dispatcher } from 'undici'
import { asUndiciConnect, createConnector } from './connect'

/**
 * A one-off dispatcher through a proxy (null: direct), for calls made outside an account's pool
 * (OAuth code exchange before the account exists, token refresh). Close it after use.
 */
export function createDispatcher(proxy: string | null, caFile: string | null = null): Dispatcher {
  return new Agent({ connect: asUndiciConnect(createConnector(proxy, caFile)), keepAliveTimeout: 10_000 })
}
