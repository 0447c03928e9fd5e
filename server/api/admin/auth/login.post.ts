import { z } from 'zod'
import { SESSION_COOKIE } from '../../../admin/sessions'
import { clientIp } from '../../../admin/client-ip'
import { login } from '../../../admin/login'

const LoginSchema = z.object({ username: z.string().min(1).max(100), password: z.string().min(1).max(1000) })

export default defineEventHandler(async (event) => {
  const { username, password } = await readValidatedBody(event, validate(LoginSchema))
  const { trustProxy } = useConfig()
  const ip = clientIp(event.node.req.socket.remoteAddress, event.node.req.headers['x-forwarded-for'], trustProxy)
  const result = await login(useRedis(), useConfig(), ip, username, password)
  if (!result.ok) {
    if (result.retryAfter) setResponseHeader(event, 'retry-after', result.retryAfter)
    throw createError({ statusCode: result.status, statusMessage: result.status === 429 ? 'Too Many Requests' : 'Unauthorized', message: result.message })
  }
  setCookie(event, SESSION_COOKIE, result.token, {
    httpOnly: true, sameSite: 'strict', path: '/', expires: new Date(result.expiresAt),
    secure: getRequestProtocol(event, { xForwardedProto: false }) === 'https',
  })
  return { token: result.token, expiresAt: result.expiresAt }
})
