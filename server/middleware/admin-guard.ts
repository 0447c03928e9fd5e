import type { TLSSocket } from 'node:tls'
import { createError, defineEventHandler, setResponseHeader, type H3Event } from 'h3'
import { BodyTooLargeError, bufferBoundedBody, declaresTooMuch, hasBody, isAdminPath, lingerOnClose, tooLargeMessage } from '../admin/body-limit'
import { checkAdminWrite } from '../admin/csrf'
import { useConfig } from '../config'

// Every /api/admin request passes here before its route: the body is bounded before anything
// buffers it (the anonymous login route included), and cookie-authenticated writes must come
// from the console's own origin (server/admin/csrf.ts).
/** Answer an error; a request whose body is left unread gets its connection closed (it is not read to the end). */
function refuse(event: H3Event, statusCode: number, message: string): never {
  if (hasBody(event.node.req)) {
    setResponseHeader(event, 'connection', 'close')
    lingerOnClose(event.node.req.socket)
  }
  throw createError({ statusCode, message })
}

export default defineEventHandler(async (event) => {
  if (!isAdminPath(event.path)) return
  const { admin, trustProxy } = useConfig()
  const limit = admin.maxBodyBytes
  const req = event.node.req
  if (declaresTooMuch(req, limit)) refuse(event, 413, tooLargeMessage(limit))
  const verdict = checkAdminWrite(event.method, req.headers, hasBody(req), { encrypted: (req.socket as TLSSocket).encrypted === true, trustProxy })
  if (!verdict.ok) refuse(event, verdict.status, verdict.message)
  try {
    await bufferBoundedBody(req, limit)
  }
  catch (err) {
    if (err instanceof BodyTooLargeError) refuse(event, 413, tooLargeMessage(limit))
    throw err
  }
})
