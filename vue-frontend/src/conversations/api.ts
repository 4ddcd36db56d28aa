import { http, request } from '@/common/http'

export type ConversationMode = 'ai' | 'pending_human' | 'human' | 'closed'
export type ConversationHolder = 'ai' | 'staff' | 'sop' | 'none'
export type ConversationFilter = 'all' | 'mine' | 'waiting' | 'ai' | 'human' | 'closed'
export type SentBy = 'customer' | 'ai' | 'staff' | 'phone' | 'sop'
export type MessageStatus = 'received' | 'processed' | 'sending' | 'sent' | 'failed'
export type DecisionOutcome = 'sent' | 'dropped' | 'blocked' | 'failed' | 'handoff' | 'skipped'

export const FILTERS: readonly ConversationFilter[] = ['all', 'mine', 'waiting', 'ai', 'human', 'closed']
export const MODES: readonly ConversationMode[] = ['ai', 'pending_human', 'human', 'closed']

export interface Contact {
  wxid: string
  nickname: string
  remark: string
  tags: string[]
}

/** A conversation as GET /api/conversations lists it. */
export interface ConversationOut {
  id: string
  account_id: string
  account_nickname: string
  chat_wxid: string
  is_group: boolean
  /** Contact remark or nickname, else the wxid. */
  title: string
  contact: Contact | null
  mode: ConversationMode
  holder: ConversationHolder
  holder_user_id: string | null
  holder_name: string | null
  lease_version: number
  mode_reason: string
  mode_changed_at: string | null
  handoff_deadline: string | null
  /** Not in the written contract; shown when the backend sends it. */
  handoff_summary?: string
  unread_count: number
  last_message_at: string | null
  last_message_preview: string
}

export interface NoteOut {
  id: string | number
  author_name: string
  text: string
  created_at: string
}

export type ConversationDetail = ConversationOut & { notes: NoteOut[] }

export interface MessageOut {
  id: number
  account_id: string
  conversation_id: string
  new_msg_id: string | null
  msg_id: string | null
  kind: string
  direction: 'in' | 'out'
  is_self_sent: boolean
  sent_by: SentBy
  sent_by_user_id: string | null
  sender_wxid: string
  text: string
  payload: Record<string, unknown>
  status: MessageStatus
  error: string | null
  sent_at: string | null
  created_at: string
  decision_id: number | null
}

export type SearchHit = MessageOut & { conversation_title: string }

export interface KbHit {
  ref: string
  title: string
  content: string
  score: number
}

export interface DecisionCheck {
  name: string
  passed: boolean
  detail: string
}

export interface DecisionOut {
  id: number
  conversation_id: string
  trigger_message_id: number | null
  reply_message_id: number | null
  outcome: DecisionOutcome
  reason: string
  draft: string
  model: string
  provider: string
  input_tokens: number
  output_tokens: number
  /** Decimal CNY as a string. */
  cost: string
  latency_ms: number
  kb_hits: KbHit[]
  checks: DecisionCheck[]
  inputs: { history_messages: number; persona: string; customer_tags: string[]; lease_version: number }
  created_at: string
}

export interface StaffOut {
  id: string
  display_name: string
  role: string
}

export type SendBody =
  | { kind: 'text'; text: string }
  | { kind: 'image'; image_url: string }
  | { kind: 'link'; title: string; description: string; url: string; thumb_url?: string }

/** Body of a `handoff.requested` / `handoff.escalated` event. */
export interface HandoffEvent {
  conversation: ConversationOut
  reason: string
  summary: string
  deadline: string
}

const base = (id: string) => `/api/conversations/${encodeURIComponent(id)}`

export const conversationsApi = {
  list: (filter: ConversationFilter, accountId: string | null = null, limit = 50) =>
    http.get<{ items: ConversationOut[] }>('/api/conversations', { query: { filter, account_id: accountId, limit } }),
  get: (id: string) => http.get<ConversationDetail>(base(id)),
  messages: (id: string, beforeId: number | null = null, limit = 50) =>
    http.get<{ items: MessageOut[]; has_more: boolean }>(`${base(id)}/messages`, { query: { before_id: beforeId, limit } }),
  decision: (id: string, decisionId: number) =>
    http.get<DecisionOut>(`${base(id)}/decisions/${encodeURIComponent(String(decisionId))}`),
  read: (id: string) => http.post<ConversationOut>(`${base(id)}/read`),
  takeover: (id: string, reason?: string) => http.post<ConversationOut>(`${base(id)}/takeover`, reason ? { reason } : {}),
  release: (id: string, reason?: string) => http.post<ConversationOut>(`${base(id)}/release`, reason ? { reason } : {}),
  transfer: (id: string, userId: string, reason?: string) =>
    http.post<ConversationOut>(`${base(id)}/transfer`, reason ? { user_id: userId, reason } : { user_id: userId }),
  resolve: (id: string) => http.post<ConversationOut>(`${base(id)}/resolve`),
  send: (id: string, body: SendBody) => http.post<MessageOut>(`${base(id)}/messages`, body),
  addNote: (id: string, text: string) => http.post<NoteOut>(`${base(id)}/notes`, { text }),
  // The shared client has no `put` helper; `request` takes any method.
  setTags: (id: string, tags: string[]) => request<ConversationOut>(`${base(id)}/tags`, { method: 'PUT', body: { tags } }),
  staff: () => http.get<StaffOut[]>('/api/conversations/staff'),
  search: (q: string, accountId: string | null = null, limit = 50) =>
    http.get<{ items: SearchHit[] }>('/api/messages/search', { query: { q, account_id: accountId, limit } }),
}
