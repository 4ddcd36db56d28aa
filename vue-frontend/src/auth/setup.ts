import type { Router } from 'vue-router'
import { setAuthHooks } from '@/common/http'
import { useAuthStore } from './store'

/**
 * Wire the HTTP client to the auth store: bearer token, one shared refresh on 401, and when the
 * session cannot be recovered, log out and go to /login?redirect=<current page>.
 */
export function setupHttpAuth(router?: Router): void {
  const auth = useAuthStore()
  setAuthHooks({
    getAccessToken: () => auth.accessToken,
    refresh: () => auth.refresh(),
    onSessionLost: () => {
      auth.clear()
      if (!router) return
      const current = router.currentRoute.value
      if (current.name === 'login') return
      void router.replace({ name: 'login', query: { redirect: current.fullPath, expired: '1' } })
    },
  })
}
