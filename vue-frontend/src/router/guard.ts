import type { RouteLocationNormalized, RouteLocationRaw } from 'vue-router'
import { roleAllowed } from '@/common/roles'
import type { Role } from '@/common/types'

export interface GuardAuth {
  isLoggedIn: boolean
  role: Role | null
  fetchMe?: () => Promise<unknown>
}

/** Only same-app paths are accepted as a post-login redirect target. */
export function safeRedirect(value: unknown): string {
  const target = Array.isArray(value) ? value[0] : value
  if (typeof target !== 'string' || !target.startsWith('/') || target.startsWith('//')) return '/'
  if (target.startsWith('/login')) return '/'
  return target
}

/**
 * Decide where a navigation goes:
 * - not logged in and the page is not public -> /login?redirect=<wanted page>
 * - logged in and going to /login -> the redirect target (or the dashboard)
 * - logged in without the role the page needs -> the 403 page ("无权访问")
 */
export async function authGuard(
  to: RouteLocationNormalized,
  auth: GuardAuth,
): Promise<true | RouteLocationRaw> {
  if (to.name === 'login') {
    return auth.isLoggedIn ? safeRedirect(to.query.redirect) : true
  }
  if (to.meta.public) return true
  if (!auth.isLoggedIn) {
    return to.fullPath === '/'
      ? { name: 'login' }
      : { name: 'login', query: { redirect: to.fullPath } }
  }
  // Tokens but no cached user (e.g. storage cleared by hand): ask the server who we are.
  if (!auth.role && auth.fetchMe) {
    try {
      await auth.fetchMe()
    } catch {
      // a 401 here already logs out through the HTTP client; fall through with what we have
    }
    if (!auth.isLoggedIn) return { name: 'login', query: { redirect: to.fullPath } }
  }
  const roles = to.matched.flatMap((r) => r.meta.roles ?? [])
  if (roles.length && !roleAllowed(roles, auth.role)) {
    return { name: 'forbidden', query: { from: to.fullPath } }
  }
  return true
}
