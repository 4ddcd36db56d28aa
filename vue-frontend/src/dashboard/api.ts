import { ApiError } from '@/common/http'
import type { ReadyResponse } from '@/common/types'

/**
 * GET /api/ready (no auth). A failing check may come back with a 503 status and the same
 * `{ok, checks}` body, so the body is read whatever the status.
 */
export async function fetchReady(signal?: AbortSignal): Promise<ReadyResponse> {
  let res: Response
  try {
    res = await fetch('/api/ready', { headers: { Accept: 'application/json' }, signal })
  } catch (err) {
    throw new ApiError(0, 'network_error', (err as Error)?.message || 'network error')
  }
  let body: unknown = null
  try {
    body = await res.json()
  } catch {
    body = null
  }
  if (body && typeof body === 'object' && 'ok' in body) {
    const ready = body as Partial<ReadyResponse>
    return { ok: !!ready.ok, checks: ready.checks ?? {} }
  }
  const err = (body as { error?: { code?: string; message?: string } } | null)?.error
  throw new ApiError(res.status, err?.code ?? `http_${res.status}`, err?.message ?? res.statusText)
}
