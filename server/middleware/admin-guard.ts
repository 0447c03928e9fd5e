import { createError, defineEventHandler, setResponseHeader, type H3Event } from 'h3'
import { BodyTooLargeError, bufferBoundedBody, declaresTooMuch, isAdminPath, lingerOnClose, tooLargeMessage } from '../admin/body-limit'
import { useConfig } from '../config'

// Every /api/admin request passes here before its route: the body is bounded before anything
// buffers it (the anonymous login route included).
function refuseTooLarge(event: H3Event, limit: number): never {
  // The rest of the body is not wanted: close the connection instead of reading up to the next request.
  setResponseHeader(event, 'connection', 'close')
  lingerOnClose(event.node.req.socket)
  throw createError({ statusCode: 413, statusMessage: 'Payload Too Large', message: tooLargeMessage(limit) })
}

export default defineEventHandler(async (event) => {
  if (!isAdminPath(event.path)) return
  const limit = useConfig().admin.maxBodyBytes
  const req = event.node.req
  if (declaresTooMuch(req, limit)) refuseTooLarge(event, limit)
  try {
    await bufferBoundedBody(req, limit)
  }
  catch (err) {
    if (err instanceof BodyTooLargeError) refuseTooLarge(event, limit)
    throw err
  }
})
