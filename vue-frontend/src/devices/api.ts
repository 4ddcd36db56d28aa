import { http } from '@/common/http'

export type AccountStatus = 'online' | 'offline' | 'logging_in' | 'error'

/** A WeChat account as /api/accounts returns it (the GeWe token is never sent). */
export interface Account {
  id: string
  nickname: string
  owner_user_id: string | null
  app_id: string | null
  wxid: string | null
  status: AccountStatus
  status_detail: string
  status_changed_at: string
  ai_enabled: boolean
  persona: string
  pacing: Record<string, number>
  has_gewe_token: boolean
  callback_url: string | null
  created_at: string
}

export interface LoginQr {
  app_id: string
  uuid: string
  qr_data: string
  qr_img_base64: string
}

export interface LoginStatus {
  login_status: number
  expired_time: number | null
  needs_new_qr: boolean
  account: Account
}

export interface Message {
  id: number
  account_id: string
  conversation_id: string
  new_msg_id: string | null
  kind: string
  direction: 'in' | 'out'
  sent_by: 'customer' | 'ai' | 'staff' | 'phone' | 'sop'
  sender_wxid: string
  text: string
  status: string
  error: string | null
  created_at: string
}

/** Body of a `device.status` event. */
export interface DeviceStatusEvent {
  account_id: string
  status: AccountStatus
  status_detail: string
  wxid: string | null
  nickname: string
}

export const devicesApi = {
  list: () => http.get<{ items: Account[]; total: number }>('/api/accounts'),
  create: (nickname: string) => http.post<Account>('/api/accounts', { nickname }),
  loginQr: (id: string) => http.post<LoginQr>(`/api/accounts/${encodeURIComponent(id)}/login-qr`),
  loginStatus: (id: string) => http.get<LoginStatus>(`/api/accounts/${encodeURIComponent(id)}/login-status`),
  contactCount: (id: string) =>
    http.get<{ total: number }>(`/api/accounts/${encodeURIComponent(id)}/contacts`, { query: { limit: 1 } }),
  syncContacts: (id: string) =>
    http.post<{ friends: number; groups: number; total: number }>(`/api/accounts/${encodeURIComponent(id)}/sync-contacts`),
  messages: (id: string, limit = 100) =>
    http.get<Message[]>(`/api/accounts/${encodeURIComponent(id)}/messages`, { query: { limit } }),
  logout: (id: string) => http.post<Account>(`/api/accounts/${encodeURIComponent(id)}/logout`),
}
