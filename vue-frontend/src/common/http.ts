/**
 * The one HTTP client of the console (fetch based).
 *
 * - JSON in, JSON out; errors become `ApiError` carrying the backend's `{error: {code, message}}`.
 * - Authenticated calls carry `Authorization: Bearer <access token>`.
 * - On a 401 (except on calls made with `auth: false`, i.e. login / refresh / logout) the client asks
 *   the auth hooks for ONE refresh (the auth store shares a single in-flight refresh between concurrent
 *   callers), retries the request once, and otherwise reports the session as lost.
 */

import type { ApiErrorBody } from './types'

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  /** Seconds from a `Retry-After` header, when the server sent one. */
  readonly retryAfter: number | null

  constructor(status: number, code: string, message: string, retryAfter: number | null = null) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.retryAfter = retryAfter
  }
}

export interface AuthHooks {
  /** Current access token, or null when logged out. */
  getAccessToken(): string | null
  /** Refresh the session; resolves true when a new access token is in place. */
  refresh(): Promise<boolean>
  /** Called when the session cannot be recovered (refresh failed or retry still 401). */
  onSessionLost(): void
}

let hooks: AuthHooks | null = null

export function setAuthHooks(h: AuthHooks | null): void {
  hooks = h
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  body?: unknown
  query?: Record<string, string | number | boolean | null | undefined>
  /** Send the bearer token and handle 401 with a refresh (default true). */
  auth?: boolean
  signal?: AbortSignal
}

function buildUrl(path: string, query?: RequestOptions['query']): string {
  if (!query) return path
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') params.append(k, String(v))
  }
  const qs = params.toString()
  return qs ? `${path}${path.includes('?') ? '&' : '?'}${qs}` : path
}

function parseRetryAfter(value: string | null): number | null {
  if (!value) return null
  const secs = Number(value)
  if (Number.isFinite(secs)) return Math.max(0, Math.ceil(secs))
  const date = Date.parse(value)
  if (!Number.isNaN(date)) return Math.max(0, Math.ceil((date - Date.now()) / 1000))
  return null
}

async function toApiError(res: Response): Promise<ApiError> {
  let code = `http_${res.status}`
  let message = res.statusText || `HTTP ${res.status}`
  try {
    const body = (await res.json()) as Partial<ApiErrorBody> | null
    if (body && body.error && typeof body.error === 'object') {
      if (body.error.code) code = body.error.code
      if (body.error.message) message = body.error.message
    }
  } catch {
    // not JSON: keep the status text
  }
  return new ApiError(res.status, code, message, parseRetryAfter(res.headers.get('Retry-After')))
}

async function send(url: string, opts: RequestOptions, token: string | null): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  let body: BodyInit | undefined
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json'
    body = JSON.stringify(opts.body)
  }
  if (token) headers.Authorization = `Bearer ${token}`
  try {
    return await fetch(url, { method: opts.method ?? 'GET', headers, body, signal: opts.signal })
  } catch (err) {
    if ((err as Error)?.name === 'AbortError') throw err
    throw new ApiError(0, 'network_error', (err as Error)?.message || 'network error')
  }
}

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const useAuth = opts.auth !== false
  const url = buildUrl(path, opts.query)
  const tokenUsed = useAuth ? (hooks?.getAccessToken() ?? null) : null
  let res = await send(url, opts, tokenUsed)

  if (res.status === 401 && useAuth && hooks) {
    // Another request may already have refreshed the token while this one was in flight.
    const current = hooks.getAccessToken()
    const fresh = current && current !== tokenUsed ? true : await hooks.refresh()
    if (fresh) res = await send(url, opts, hooks.getAccessToken())
    if (!fresh || res.status === 401) {
      const error = await toApiError(res)
      hooks.onSessionLost()
      throw error
    }
  }

  if (!res.ok) throw await toApiError(res)
  if (res.status === 204) return undefined as T
  const text = await res.text()
  return (text ? JSON.parse(text) : undefined) as T
}

export const http = {
  get: <T>(path: string, opts: Omit<RequestOptions, 'method' | 'body'> = {}) =>
    request<T>(path, { ...opts, method: 'GET' }),
  post: <T>(path: string, body?: unknown, opts: Omit<RequestOptions, 'method' | 'body'> = {}) =>
    request<T>(path, { ...opts, method: 'POST', body }),
  patch: <T>(path: string, body?: unknown, opts: Omit<RequestOptions, 'method' | 'body'> = {}) =>
    request<T>(path, { ...opts, method: 'PATCH', body }),
  delete: <T>(path: string, opts: Omit<RequestOptions, 'method' | 'body'> = {}) =>
    request<T>(path, { ...opts, method: 'DELETE' }),
}
