import { http } from '@/common/http'

export type Intent = 'report' | 'diagnose' | 'plan' | 'execute'
export type Row = Record<string, string | number | null>

export interface Report {
  columns: string[]
  labels: Record<string, string>
  rows: Row[]
  definitions: string[]
}

export interface CampaignPlan {
  goal: string
  duration_days: number
  budget: number
  target_segment: { definition: string; rules: string[]; estimated_size: number | null }
  offer: { type: 'full_reduction' | 'discount' | 'points'; threshold: number; value: number; max_redemptions: number }
  channels: string[]
  kpi: { primary: string; targets: string[] }
  risk_controls: string[]
  sql_preview: string | null
}

export interface Claim {
  section: string
  text: string
  source: 'data' | 'kb'
  refs: string[]
}

export interface EvidenceQuery {
  id: string
  purpose: string
  final_sql: string | null
  columns: string[] | null
  labels: Record<string, string> | null
  rows: Row[] | null
}

export interface Evidence {
  claims: Claim[]
  queries: EvidenceQuery[]
  knowledge: { ref: string; title: string; content: string; score: number }[]
}

export interface Execution {
  idempotency_key: string
  coupon_id: number | null
  publish_status: string | null
  error: string | null
  replayed: boolean
}

export interface ChatAnswer {
  intent: Intent
  answer: string
  report: Report | null
  plan: CampaignPlan | null
  evidence: Evidence | null
  execution: Execution | null
  debug: Record<string, unknown>
}

export interface ExecuteAnswer {
  intent: 'execute'
  execution: Execution
  debug: Record<string, unknown>
}

export const agentApi = {
  chat: (query: string, plan?: CampaignPlan) => http.post<ChatAnswer>('/api/agent/chat', plan ? { query, plan } : { query }),
  execute: (plan: CampaignPlan) => http.post<ExecuteAnswer>('/api/agent/execute', { plan }),
}
