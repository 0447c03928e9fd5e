import { createError } from 'h3'
import { OAuthError } from '../oauth'

/** Admin routes: an OAuth failure becomes its own status and message (never a bare 500). */
export function asHttpError(err: unknown): unknown {
  if (err instanceof OAuthError) return createError({ statusCode: err.statusCode, message: err.message })
  return err
}
