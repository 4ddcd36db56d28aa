import type { ConversationDetail, ConversationOut, MessageOut } from '@/conversations/api'

export function conv(id: string, overrides: Partial<ConversationOut> = {}): ConversationOut {
  return {
    id,
    account_id: 'acc-1',
    account_nickname: '门店一号',
    chat_wxid: `wxid_${id}`,
    is_group: false,
    title: `客户${id}`,
    contact: { wxid: `wxid_${id}`, nickname: `昵称${id}`, remark: '', tags: [] },
    mode: 'ai',
    holder: 'ai',
    holder_user_id: null,
    holder_name: null,
    lease_version: 1,
    mode_reason: '',
    mode_changed_at: null,
    handoff_deadline: null,
    unread_count: 0,
    last_message_at: '2026-11-21T08:00:00Z',
    last_message_preview: '你好',
    ...overrides,
  }
}

export function detail(id: string, overrides: Partial<ConversationDetail> = {}): ConversationDetail {
  return { ...conv(id), notes: [], ...overrides }
}

export function msg(id: number, conversationId: string, overrides: Partial<MessageOut> = {}): MessageOut {
  return {
    id,
    account_id: 'acc-1',
    conversation_id: conversationId,
    new_msg_id: String(9_000_000_000_000_000 + id),
    msg_id: null,
    kind: 'text',
    direction: 'in',
    is_self_sent: false,
    sent_by: 'customer',
    sent_by_user_id: null,
    sender_wxid: `wxid_${conversationId}`,
    text: `消息${id}`,
    payload: {},
    status: 'received',
    error: null,
    sent_at: `2026-11-21T09:00:${String(id % 60).padStart(2, '0')}Z`,
    created_at: `2026-11-21T09:00:${String(id % 60).padStart(2, '0')}Z`,
    decision_id: null,
    ...overrides,
  }
}

export function envelope<D>(type: string, data: D, seq = 1) {
  return { seq, type, at: '2026-11-21T09:00:00Z', data }
}
