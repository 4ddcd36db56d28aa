import { vi } from 'vitest'
import type { Role, TokenResponse, User } from '@/common/types'

export interface Call {
  method: string
  url: string
  headers: Record<string, string>
  body: unknown
}

export type Responder = (call: Call) => Response | Promise<Response>

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  })
}

export function apiError(status: number, code: string, message: string, headers: Record<string, string> = {}): Response {
  return json({ error: { code, message } }, status, headers)
}

/** Replace global fetch with a recorder that answers through `responder`. */
export function mockFetch(responder: Responder) {
  const calls: Call[] = []
  const fn = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const headers = Object.fromEntries(Object.entries((init.headers ?? {}) as Record<string, string>))
    const call: Call = {
      method: (init.method ?? 'GET').toUpperCase(),
      url: String(input),
      headers,
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
    }
    calls.push(call)
    return responder(call)
  })
  vi.stubGlobal('fetch', fn)
  return { calls, fn }
}

export function makeUser(role: Role = 'admin', overrides: Partial<User> = {}): User {
  return {
    id: 1,
    username: `${role}1`,
    display_name: `测试${role}`,
    role,
    is_active: true,
    organization: { id: 1, name: '示例门店' },
    created_at: '2025-01-01T00:00:00Z',
    ...overrides,
  }
}

export function tokens(n: number, user: User = makeUser()): TokenResponse {
  return {
    access_token: `access-${n}`,
    refresh_token: `refresh-${n}`,
    token_type: 'bearer',
    expires_in: 900,
    user,
  }
}

/** Resolve after pending promises/microtasks (and a macrotask) ran. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0))
}

/** Poll until `check` is true (lazy route chunks and form validation settle asynchronously). */
export async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now()
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
