import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { ApiError } from '@/common/http'
import { roleAllowed } from '@/common/roles'
import { readItem, readJson, writeItem, writeJson } from '@/common/storage'
import type { Role, TokenResponse, User } from '@/common/types'
import { authApi } from './api'

/** localStorage keys (prefixed with `salesbot.`). */
export const TOKEN_KEYS = {
  access: 'access_token',
  refresh: 'refresh_token',
  expiresAt: 'access_expires_at',
  user: 'user',
} as const

export const useAuthStore = defineStore('auth', () => {
  const accessToken = ref<string | null>(readItem(TOKEN_KEYS.access))
  const refreshToken = ref<string | null>(readItem(TOKEN_KEYS.refresh))
  const expiresAt = ref<number | null>(Number(readItem(TOKEN_KEYS.expiresAt)) || null)
  const user = ref<User | null>(readJson<User>(TOKEN_KEYS.user))

  const isLoggedIn = computed(() => !!accessToken.value)
  const role = computed<Role | null>(() => user.value?.role ?? null)

  function setSession(tokens: TokenResponse): void {
    accessToken.value = tokens.access_token
    refreshToken.value = tokens.refresh_token
    expiresAt.value = tokens.expires_in ? Date.now() + tokens.expires_in * 1000 : null
    user.value = tokens.user
    writeItem(TOKEN_KEYS.access, tokens.access_token)
    writeItem(TOKEN_KEYS.refresh, tokens.refresh_token)
    writeItem(TOKEN_KEYS.expiresAt, expiresAt.value ? String(expiresAt.value) : null)
    writeJson(TOKEN_KEYS.user, tokens.user)
  }

  function clear(): void {
    accessToken.value = null
    refreshToken.value = null
    expiresAt.value = null
    user.value = null
    for (const key of Object.values(TOKEN_KEYS)) writeItem(key, null)
  }

  async function login(username: string, password: string): Promise<User> {
    const tokens = await authApi.login(username, password)
    setSession(tokens)
    return tokens.user
  }

  // One refresh at a time: concurrent 401s all wait for the same promise, because the refresh
  // token rotates (the old one is revoked as soon as it is used once).
  let inFlight: Promise<boolean> | null = null

  function refresh(): Promise<boolean> {
    if (inFlight) return inFlight
    const token = refreshToken.value
    if (!token) return Promise.resolve(false)
    inFlight = (async () => {
      try {
        setSession(await authApi.refresh(token))
        return true
      } catch (err) {
        // A rejected refresh token means the session is over; a network error keeps it for later.
        if (err instanceof ApiError && err.status >= 400 && err.status < 500) clear()
        return false
      } finally {
        inFlight = null
      }
    })()
    return inFlight
  }

  async function logout(): Promise<void> {
    const token = refreshToken.value
    clear()
    if (token) {
      try {
        await authApi.logout(token)
      } catch {
        // already logged out locally; the server-side token expires by itself
      }
    }
  }

  /** Reload the current user (GET /api/auth/me). */
  async function fetchMe(): Promise<User> {
    const me = await authApi.me()
    user.value = me
    writeJson(TOKEN_KEYS.user, me)
    return me
  }

  function hasRole(roles: readonly Role[] | undefined): boolean {
    return roleAllowed(roles, role.value)
  }

  return {
    accessToken,
    refreshToken,
    expiresAt,
    user,
    isLoggedIn,
    role,
    setSession,
    clear,
    login,
    refresh,
    logout,
    fetchMe,
    hasRole,
  }
})
