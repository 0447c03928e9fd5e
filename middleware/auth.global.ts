// Every /web page but the login and the key-holder stats page needs an admin session.
const PUBLIC = new Set(['/web/login', '/web/stats'])

export default defineNuxtRouteMiddleware(async (to) => {
  if (import.meta.server || !to.path.startsWith('/web') || PUBLIC.has(to.path.replace(/\/+$/, ''))) return
  const session = useState<{ username: string } | null>('admin-session', () => null)
  if (session.value) return
  try {
    session.value = await $fetch<{ username: string }>('/api/admin/auth/me', { credentials: 'same-origin' })
  }
  catch {
    return navigateTo({ path: '/web/login', query: { redirect: to.fullPath } })
  }
})
