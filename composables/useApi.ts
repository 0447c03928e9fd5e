import type { NitroFetchOptions } from 'nitropack'
import { errorMessage } from '~/utils/api-errors'

/**
 * Admin API calls from the browser (session cookie). A 401 anywhere sends the user to the login
 * page (coming back here afterwards); other failures show the server's message in a toast and rethrow.
 */
export function useApi() {
  const toasts = useToastStore()
  const route = useRoute()
  return async function api<T>(path: string, opts: NitroFetchOptions<string> & { quiet?: boolean } = {}): Promise<T> {
    try {
      return await ($fetch as (p: string, o: unknown) => Promise<T>)(path, { ...opts, credentials: 'same-origin' })
    }
    catch (err) {
      const status = (err as { status?: number, statusCode?: number }).status ?? (err as { statusCode?: number }).statusCode
      if (status === 401 && !path.startsWith('/api/admin/auth/login')) {
        await navigateTo({ path: '/web/login', query: { redirect: route.fullPath } })
      }
      else if (!opts.quiet) toasts.show('error', errorMessage(err))
      throw err
    }
  }
}
