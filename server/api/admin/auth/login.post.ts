import type { TLSSocket } from 'node:tls'
import { SESSION_COOKIE } from '../../../admin/sessions'
import { clientIp, requestProtocol } from '../../../admin/client-ip'
import { login } from '../../../admin/login'
import { LoginSchema } from '../../../admin/schemas'

export default defineEventHandler(async (event) => {
  const { username, password } = await readValidatedBody(event, validate(LoginSchema))
  const { trustProxy } = useConfig()
  const req = event.node.req
  const ip = clientIp(req.socket.remoteAddress, req.headers['x-forwarded-for'], trustProxy)
  const result = await login(useRedis(), useConfig(), ip, username, password)
  if (!result.ok) {
    if (result.retryAfter) setResponseHeader(event, 'retry-after', result.retryAfter)
    throw createError({ statusCode: result.status, statusMessage: result.status === 429 ? 'Too Many Requests' : 'Unauthorized', message: result.message })
  }
  setCookie(event, SESSION_COOKIE, result.token, {
    httpOnly: true, sameSite: 'strict', path: '/', expires: new Date(result.expiresAt),
    // Behind a TLS-terminating proxy (TRUST_PROXY) the socket is plain http but the browser's is https.
    secure: requestProtocol((req.socket as TLSSocket).encrypted === true, req.headers['x-forwarded-proto'], trustProxy) === 'https',
  })
  return { token: result.token, expiresAt: result.expiresAt }
})
