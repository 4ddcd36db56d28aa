import { http } from '@/common/http'
import type { Paged } from '@/common/types'

/** One audited action (GET /api/audit); `actor_id` null: the system or the command line. */
export interface AuditEvent {
  id: number
  created_at: string
  actor_id: string | null
  actor_name: string | null
  action: string
  target_type: string
  target_id: string
  detail: Record<string, unknown>
}

export interface AuditFilters {
  action?: string
  actor_id?: string
  target_type?: string
  /** ISO instant, inclusive. */
  since?: string
  /** ISO instant, exclusive. */
  until?: string
}

/** Object kinds the backend audits (target_type), in the order the filter lists them. */
export const TARGET_TYPES = ['user', 'account', 'budget', 'price', 'organization', 'conversation', 'contact', 'sop'] as const

export const auditApi = {
  list: (filters: AuditFilters, limit: number, offset: number) =>
    http.get<Paged<AuditEvent>>('/api/audit', { query: { ...filters, limit, offset } }),
  actions: () => http.get<string[]>('/api/audit/actions'),
}
