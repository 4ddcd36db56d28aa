import { http } from '@/common/http'
import { useAuthStore } from '@/auth/store'

/** Money arrives as exact decimal strings (CNY); never do arithmetic on it beyond display. */
export type Money = string
export type GroupBy = 'day' | 'model' | 'provider' | 'account' | 'user' | 'conversation' | 'origin' | 'day,model'
export type HardAction = 'alert' | 'downgrade_model' | 'stop_ai' | 'pause_sop'

export interface Totals {
  calls: number
  failed_calls: number
  input_tokens: number
  cached_input_tokens: number
  output_tokens: number
  cost: Money
}

export interface SummaryItem extends Totals {
  key: string | null
  /** Second key of a two-dimension grouping: the model of `day,model`. */
  sub_key?: string | null
}

export interface Summary {
  group_by: GroupBy
  from: string
  to: string
  currency: string
  total: Totals
  items: SummaryItem[]
  /** conversation, account, user: how many groups the period has; `items` holds the top ones by cost. */
  groups?: number | null
  /** conversation, account, user: totals of the groups beyond the listed ones. */
  rest?: Totals | null
}

export interface LedgerRow {
  id: number
  request_id: string
  attempt: number
  user_id: string | null
  account_id: string | null
  conversation_id: string | null
  origin: string
  purpose: string
  provider: string
  model: string
  input_tokens: number
  cached_input_tokens: number
  output_tokens: number
  latency_ms: number
  status: 'ok' | 'error' | 'timeout' | 'fallback'
  error: string | null
  cost: Money
  offline: boolean
  created_at: string
}

export interface LedgerPage {
  items: LedgerRow[]
  next_cursor: string | null
}

export interface LedgerFilters {
  from?: string
  to?: string
  model?: string
  provider?: string
  origin?: string
  status?: string
}

export interface Budget {
  id: string
  name: string
  scope: 'organization' | 'account' | 'user'
  scope_id: string | null
  period: 'daily' | 'monthly'
  quota_kind: 'money' | 'tokens'
  quota: string
  soft_threshold: string
  hard_action: HardAction
  downgrade_model: string | null
  webhook_url: string | null
  enabled: boolean
  window_start: string | null
  used: string
  ratio: string
  exceeded: boolean
}

export type BudgetBody = Omit<Budget, 'id' | 'window_start' | 'used' | 'ratio' | 'exceeded'>

export interface Price {
  id: string
  organization_id: string | null
  provider: string
  model: string
  effective_from: string
  input_per_million: string
  cached_input_per_million: string
  output_per_million: string
  currency: string
  note: string
  current: boolean
}

export interface PriceBody {
  provider: string
  model: string
  input_per_million: string
  cached_input_per_million?: string
  output_per_million: string
  note?: string
}

export const costApi = {
  summary: (groupBy: GroupBy, from?: string, to?: string, limit?: number) =>
    http.get<Summary>('/api/cost/summary', { query: { group_by: groupBy, from, to, limit } }),
  ledger: (filters: LedgerFilters, cursor?: string | null, limit = 50) =>
    http.get<LedgerPage>('/api/cost/ledger', { query: { ...filters, cursor, limit } }),
  budgets: () => http.get<{ items: Budget[] }>('/api/cost/budgets'),
  createBudget: (body: Partial<BudgetBody>) => http.post<Budget>('/api/cost/budgets', body),
  updateBudget: (id: string, body: Partial<BudgetBody>) => http.patch<Budget>(`/api/cost/budgets/${encodeURIComponent(id)}`, body),
  deleteBudget: (id: string) => http.delete<void>(`/api/cost/budgets/${encodeURIComponent(id)}`),
  prices: () => http.get<{ items: Price[] }>('/api/cost/prices'),
  addPrice: (body: PriceBody) => http.post<Price>('/api/cost/prices', body),
}

/** The export URL for the given filters (the file is fetched with the bearer token, not by navigation). */
export function exportUrl(filters: LedgerFilters): string {
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(filters)) if (v) params.append(k, v)
  const qs = params.toString()
  return qs ? `/api/cost/export.csv?${qs}` : '/api/cost/export.csv'
}

/** Download the ledger CSV; on a stale token, one authenticated JSON call refreshes it before the retry. */
export async function downloadLedgerCsv(filters: LedgerFilters): Promise<void> {
  const auth = useAuthStore()
  const fetchCsv = () =>
    fetch(exportUrl(filters), { headers: auth.accessToken ? { Authorization: `Bearer ${auth.accessToken}` } : {} })
  let res = await fetchCsv()
  if (res.status === 401) {
    await http.get('/api/auth/me')
    res = await fetchCsv()
  }
  if (!res.ok) throw new Error(`HTTP ${res.status}`)
  const blob = await res.blob()
  const link = document.createElement('a')
  link.href = URL.createObjectURL(blob)
  link.download = `cost-ledger-${new Date().toISOString().slice(0, 10)}.csv`
  link.click()
  URL.revokeObjectURL(link.href)
}
