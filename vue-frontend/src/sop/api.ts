import { http, request } from '@/common/http'
import type { Account } from '@/devices/api'

/** Shapes of the SOP API; backend/sop/schemas.py is the source of truth for the field names. */

export type SopStatus = 'draft' | 'running' | 'paused' | 'cancelled' | 'completed'
export type DeliveryStatus = 'pending' | 'claimed' | 'sending' | 'sent' | 'skipped' | 'dead' | 'cancelled'
export type TargetKinds = 'friends' | 'groups' | 'all'
export type TagMode = 'any' | 'all'
export type ContentKind = 'text' | 'image' | 'link' | 'file'
export type TimingKind = 'at' | 'cron' | 'day_offset'
export type Anchor = 'friend_added' | 'group_created'
export type MissedPolicy = 'late' | 'skip' | 'next_window'
export type WhenHuman = 'wait' | 'skip' | 'send'

export const SOP_STATUSES: readonly SopStatus[] = ['draft', 'running', 'paused', 'cancelled', 'completed']
export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['pending', 'claimed', 'sending', 'sent', 'skipped', 'dead', 'cancelled']
export const CONTENT_KINDS: readonly ContentKind[] = ['text', 'image', 'link', 'file']
export const TIMING_KINDS: readonly TimingKind[] = ['at', 'cron', 'day_offset']
export const MISSED_POLICIES: readonly MissedPolicy[] = ['late', 'skip', 'next_window']
export const WHEN_HUMAN: readonly WhenHuman[] = ['wait', 'skip', 'send']
/** Variables a text template may use (rendered per target by the backend). */
export const TEMPLATE_VARIABLES = ['{昵称}', '{备注}', '{称呼}', '{账号}', '{日期}', '{星期}'] as const

export interface TargetSpec {
  /** Empty: every account of the organisation. */
  account_ids: string[]
  kinds: TargetKinds
  tags: string[]
  tag_mode: TagMode
  /** Explicit friends or groups; when given, kinds and tags are ignored. */
  contact_ids: string[]
}

export interface StepContent {
  kind: ContentKind
  text?: string
  image_url?: string
  title?: string
  description?: string
  url?: string
  thumb_url?: string
  file_url?: string
  file_name?: string
}

export interface StepTiming {
  kind: TimingKind
  /** kind=at: ISO date-time (naive = the SOP's time zone). */
  at?: string | null
  /** kind=cron: five crontab fields. */
  cron?: string | null
  /** kind=day_offset: day N after the anchor (0 = same day). */
  day?: number | null
  /** kind=day_offset: local time of day, `HH:MM` (the backend answers `HH:MM:SS`). */
  time?: string | null
  anchor?: Anchor
}

export interface StepIn {
  content: StepContent
  timing: StepTiming
  window_start: string | null
  window_end: string | null
  missed: MissedPolicy
  when_human: WhenHuman
  stop_on_reply: boolean
  stop_on_tags: string[]
  ai_personalize: boolean
  ai_instruction: string
}

export interface StepOut extends StepIn {
  id: string
  position: number
}

/** A SOP definition as the editor sends it. */
export interface SopIn {
  name: string
  description: string
  timezone: string
  dynamic: boolean
  end_at: string | null
  targets: TargetSpec
  steps: StepIn[]
}

export interface Counts {
  pending: number
  claimed: number
  sending: number
  sent: number
  skipped: number
  dead: number
  cancelled: number
  total: number
  late: number
}

export interface AccountProgress extends Counts {
  account_id: string
  nickname: string
}

/** A SOP's progress: the body of `sop.progress` events, and `progress` of SopOut. */
export interface Progress {
  sop_id: string
  status: SopStatus
  totals: Counts
  accounts: AccountProgress[]
}

export interface SopOut {
  id: string
  name: string
  description: string
  status: SopStatus
  status_reason: string
  timezone: string
  dynamic: boolean
  end_at: string | null
  targets: TargetSpec
  steps: StepOut[]
  created_at: string
  updated_at: string
  started_at: string | null
  finished_at: string | null
  progress: Progress | null
}

export interface TargetCount {
  total: number
  accounts: { account_id: string; nickname: string; friends: number; groups: number }[]
}

export interface TargetOut {
  contact_id: string
  account_id: string
  wxid: string
  nickname: string
  remark: string
  is_group: boolean
  tags: string[]
  added_at: string
}

export interface RenderedStep {
  step_id: string
  position: number
  kind: string
  text: string
  title: string
  due_at: string | null
}

export interface TargetPreview {
  target: TargetOut
  steps: RenderedStep[]
}

export interface AccountRisk {
  account_id: string
  nickname: string
  status: string
  targets: number
  groups: number
  messages: number
  per_minute_cap: number
  daily_cap: number | null
  sent_today: number
  estimated_seconds: number
  days_needed: number
  warnings: string[]
}

export interface PreviewOut {
  total_targets: number
  total_messages: number
  estimated_seconds: number
  accounts: AccountRisk[]
  warnings: string[]
  samples: TargetPreview[]
}

export interface DeliveryOut {
  id: number
  step_id: string
  step_position: number
  contact_id: string
  contact_name: string
  wxid: string
  account_id: string
  account_nickname: string
  occurrence: string
  status: DeliveryStatus
  due_at: string
  sent_at: string | null
  late: boolean
  attempts: number
  error: string
  gewe_new_msg_id: string | null
}

export interface Page<T> {
  total: number
  items: T[]
}

export interface DeliveryFilters {
  status?: DeliveryStatus | ''
  account_id?: string
  step_id?: string
  q?: string
}

export interface TargetFilters {
  account_id?: string
  q?: string
}

/** A stored contact of an account (GET /api/accounts/{id}/contacts), for the target picker. */
export interface ContactOut {
  id: string
  wxid: string
  nickname: string
  remark: string
  is_group: boolean
  tags: string[]
  added_at: string
}

export type SopAction = 'start' | 'pause' | 'resume' | 'cancel'

const base = (id: string) => `/api/sops/${encodeURIComponent(id)}`

export const sopApi = {
  list: () => http.get<SopOut[]>('/api/sops'),
  get: (id: string) => http.get<SopOut>(base(id)),
  create: (body: SopIn) => http.post<SopOut>('/api/sops', body),
  // The shared client has no `put` helper; `request` takes any method.
  update: (id: string, body: SopIn) => request<SopOut>(base(id), { method: 'PUT', body }),
  remove: (id: string) => http.delete<void>(base(id)),
  transition: (id: string, action: SopAction) => http.post<SopOut>(`${base(id)}/${action}`),
  targetCount: (targets: TargetSpec, signal?: AbortSignal) => http.post<TargetCount>('/api/sops/target-count', targets, { signal }),
  preview: (id: string) => http.get<PreviewOut>(`${base(id)}/preview`),
  targets: (id: string, filters: TargetFilters, limit = 20, offset = 0) =>
    http.get<Page<TargetOut>>(`${base(id)}/targets`, { query: { ...filters, limit, offset } }),
  targetPreview: (id: string, contactId: string) =>
    http.get<TargetPreview>(`${base(id)}/targets/${encodeURIComponent(contactId)}/preview`),
  deliveries: (id: string, filters: DeliveryFilters, limit = 20, offset = 0) =>
    http.get<Page<DeliveryOut>>(`${base(id)}/deliveries`, { query: { ...filters, limit, offset } }),
  retryDelivery: (id: string, deliveryId: number) =>
    http.post<{ retried: number }>(`${base(id)}/deliveries/${encodeURIComponent(String(deliveryId))}/retry`),
  retryDeadLetters: (id: string) => http.post<{ retried: number }>(`${base(id)}/dead-letters/retry`),
  /** The organisation's WeChat accounts (the target picker). */
  accounts: () => http.get<{ items: Account[]; total: number }>('/api/accounts'),
  /** Stored contacts of one account (the tag and contact pickers). */
  contacts: (accountId: string, limit = 1000) =>
    http.get<Page<ContactOut>>(`/api/accounts/${encodeURIComponent(accountId)}/contacts`, { query: { limit } }),
}
