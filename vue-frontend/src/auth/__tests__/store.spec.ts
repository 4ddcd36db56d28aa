import { beforeEach, describe, expect, it } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { http } from '@/common/http'
import { setupHttpAuth } from '@/auth/setup'
import { useAuthStore } from '@/auth/store'
import { apiError, json, makeUser, mockFetch, tokens } from '../../../tests/unit/helpers'

beforeEach(() => {
  setActivePinia(createPinia())
})

describe('auth store', () => {
  it('login posts the credentials and stores both tokens and the user under salesbot.*', async () => {
    const { calls } = mockFetch(() => json(tokens(1, makeUser('sales'))))
    const auth = useAuthStore()

    await auth.login('alice', 'secret-pass')

    expect(calls[0]).toMatchObject({ method: 'POST', url: '/api/auth/login', body: { username: 'alice', password: 'secret-pass' } })
    expect(calls[0].headers.Authorization).toBeUndefined()
    expect(localStorage.getItem('salesbot.access_token')).toBe('access-1')
    expect(localStorage.getItem('salesbot.refresh_token')).toBe('refresh-1')
    expect(JSON.parse(localStorage.getItem('salesbot.user')!).role).toBe('sales')
    expect(auth.isLoggedIn).toBe(true)
    expect(auth.role).toBe('sales')
  })

  it('a failed login throws the backend error and stores nothing', async () => {
    mockFetch(() => apiError(401, 'invalid_credentials', '用户名或密码错误'))
    const auth = useAuthStore()

    await expect(auth.login('alice', 'wrong')).rejects.toMatchObject({ status: 401, code: 'invalid_credentials', message: '用户名或密码错误' })
    expect(localStorage.getItem('salesbot.access_token')).toBeNull()
    expect(auth.isLoggedIn).toBe(false)
  })

  it('refresh sends the current refresh token and stores the rotated one', async () => {
    const auth = useAuthStore()
    auth.setSession(tokens(1))
    const { calls } = mockFetch(() => json(tokens(2)))

    expect(await auth.refresh()).toBe(true)

    expect(calls).toHaveLength(1)
    expect(calls[0]).toMatchObject({ method: 'POST', url: '/api/auth/refresh', body: { refresh_token: 'refresh-1' } })
    expect(auth.refreshToken).toBe('refresh-2')
    expect(localStorage.getItem('salesbot.refresh_token')).toBe('refresh-2')
    expect(localStorage.getItem('salesbot.access_token')).toBe('access-2')
  })

  it('a rejected refresh token ends the session', async () => {
    const auth = useAuthStore()
    auth.setSession(tokens(1))
    mockFetch(() => apiError(401, 'invalid_token', 'refresh token revoked'))

    expect(await auth.refresh()).toBe(false)
    expect(auth.isLoggedIn).toBe(false)
    expect(localStorage.getItem('salesbot.refresh_token')).toBeNull()
  })

  it('logout posts the refresh token and clears storage', async () => {
    const auth = useAuthStore()
    auth.setSession(tokens(3))
    const { calls } = mockFetch(() => new Response(null, { status: 204 }))

    await auth.logout()

    expect(calls[0]).toMatchObject({ method: 'POST', url: '/api/auth/logout', body: { refresh_token: 'refresh-3' } })
    expect(Object.keys(localStorage).filter((k) => k.startsWith('salesbot.') && k !== 'salesbot.locale')).toEqual([])
  })
})

describe('http client with the auth store', () => {
  it('sends the bearer token on API calls', async () => {
    const auth = useAuthStore()
    auth.setSession(tokens(1))
    setupHttpAuth()
    const { calls } = mockFetch(() => json({ items: [], total: 0 }))

    await http.get('/api/users')

    expect(calls[0].headers.Authorization).toBe('Bearer access-1')
  })

  it('concurrent 401s share one refresh and every request is retried with the new token', async () => {
    const auth = useAuthStore()
    auth.setSession(tokens(1))
    setupHttpAuth()
    let releaseRefresh!: () => void
    const refreshGate = new Promise<void>((r) => (releaseRefresh = r))
    const { calls } = mockFetch(async (call) => {
      if (call.url === '/api/auth/refresh') {
        await refreshGate // keep the refresh in flight until all three requests got their 401
        return call.body && (call.body as { refresh_token: string }).refresh_token === 'refresh-1'
          ? json(tokens(2))
          : apiError(401, 'invalid_token', 'refresh token reused')
      }
      if (call.headers.Authorization === 'Bearer access-2') return json({ path: call.url })
      return apiError(401, 'token_expired', 'access token expired')
    })

    const pending = Promise.all([http.get('/api/a'), http.get('/api/b'), http.get('/api/c')])
    await new Promise((r) => setTimeout(r, 10))
    releaseRefresh()
    const results = await pending

    expect(results).toEqual([{ path: '/api/a' }, { path: '/api/b' }, { path: '/api/c' }])
    expect(calls.filter((c) => c.url === '/api/auth/refresh')).toHaveLength(1)
    expect(calls.filter((c) => c.url !== '/api/auth/refresh' && c.headers.Authorization === 'Bearer access-2')).toHaveLength(3)
    expect(localStorage.getItem('salesbot.refresh_token')).toBe('refresh-2')
  })

  it('a 401 whose refresh fails logs out and rethrows', async () => {
    const auth = useAuthStore()
    auth.setSession(tokens(1))
    setupHttpAuth()
    mockFetch((call) =>
      call.url === '/api/auth/refresh'
        ? apiError(401, 'invalid_token', 'refresh token revoked')
        : apiError(401, 'token_expired', 'access token expired'),
    )

    await expect(http.get('/api/auth/me')).rejects.toMatchObject({ status: 401 })
    expect(auth.isLoggedIn).toBe(false)
  })

  it('a 401 from login is not retried through a refresh', async () => {
    const auth = useAuthStore()
    setupHttpAuth()
    const { calls } = mockFetch(() => apiError(401, 'invalid_credentials', '用户名或密码错误'))

    await expect(auth.login('bob', 'nope')).rejects.toMatchObject({ code: 'invalid_credentials' })
    expect(calls.map((c) => c.url)).toEqual(['/api/auth/login'])
  })
})
