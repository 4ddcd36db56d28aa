import { beforeEach, describe, expect, it } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { useAuthStore } from '@/auth/store'
import { useConversationsStore } from '@/conversations/store'
import { useRealtimeStore } from '@/realtime/store'
import { flush, json, makeUser, mockFetch, tokens, waitFor, type Call } from '../../../tests/unit/helpers'
import { conv, detail, envelope, msg } from './fixtures'

beforeEach(() => {
  setActivePinia(createPinia())
  useAuthStore().setSession(tokens(1, makeUser('sales', { id: 'u-me' })))
})

function seeded(ids = ['a', 'b', 'c']) {
  const store = useConversationsStore()
  store.items = ids.map((id) => conv(id))
  return store
}

/** Open `id` without the network: what `open()` leaves behind. */
function openLocally(store: ReturnType<typeof useConversationsStore>, id: string) {
  store.currentId = id
  store.current = detail(id, { notes: [{ id: 'n-1', author_name: '小李', text: '老客户', created_at: '2026-11-21T08:00:00Z' }] })
  store.messages = []
}

describe('conversations store: message.new', () => {
  it('moves the row to the top with the new preview and bumps its unread count', () => {
    const store = seeded()
    expect(store.applyMessageNew(msg(10, 'c', { text: '在吗？' }))).toBe('applied')
    expect(store.items.map((c) => c.id)).toEqual(['c', 'a', 'b'])
    expect(store.items[0]).toMatchObject({ unread_count: 1, last_message_preview: '在吗？', last_message_at: msg(10, 'c').sent_at })
  })

  it('does not bump the unread count of the open conversation, and appends the bubble there', () => {
    const store = seeded()
    openLocally(store, 'b')
    store.applyMessageNew(msg(11, 'b'))
    expect(store.items[0]).toMatchObject({ id: 'b', unread_count: 0 })
    expect(store.messages.map((m) => m.id)).toEqual([11])
  })

  it('does not bump the unread count for messages we (or the AI) sent', () => {
    const store = seeded()
    store.applyMessageNew(msg(12, 'b', { direction: 'out', sent_by: 'ai', status: 'sent' }))
    expect(store.items[0]).toMatchObject({ id: 'b', unread_count: 0 })
  })

  it('is idempotent: a repeated event neither duplicates the bubble nor counts twice', () => {
    const store = seeded()
    openLocally(store, 'a')
    const m = msg(13, 'c')
    store.applyMessageNew(m)
    store.applyMessageNew(m)
    store.applyMessageNew(msg(14, 'a'))
    store.applyMessageNew(msg(14, 'a'))
    expect(store.items.find((c) => c.id === 'c')!.unread_count).toBe(1)
    expect(store.messages.map((x) => x.id)).toEqual([14])
    expect(store.applyMessageNew(m)).toBe('duplicate')
  })

  it('keeps the open conversation’s messages ordered by id', () => {
    const store = seeded()
    openLocally(store, 'a')
    for (const id of [5, 3, 9, 7]) store.applyMessageNew(msg(id, 'a'))
    expect(store.messages.map((m) => m.id)).toEqual([3, 5, 7, 9])
  })

  it('reports a conversation that is not in the list', () => {
    const store = seeded()
    expect(store.applyMessageNew(msg(15, 'zzz'))).toBe('missing')
    expect(store.items.map((c) => c.id)).toEqual(['a', 'b', 'c'])
  })
})

describe('conversations store: message.status', () => {
  it('replaces the message by id', () => {
    const store = seeded()
    openLocally(store, 'a')
    store.applyMessageNew(msg(20, 'a', { direction: 'out', sent_by: 'staff', status: 'sending' }))
    store.applyMessageStatus(msg(20, 'a', { direction: 'out', sent_by: 'staff', status: 'failed', error: '发送太频繁' }))
    expect(store.messages).toHaveLength(1)
    expect(store.messages[0]).toMatchObject({ id: 20, status: 'failed', error: '发送太频繁' })
  })

  it('never goes back from sent to sending, and keeps a known decision id', () => {
    const store = seeded()
    openLocally(store, 'a')
    store.applyMessageStatus(msg(21, 'a', { direction: 'out', sent_by: 'ai', status: 'sent', decision_id: 7 }))
    store.applyMessageNew(msg(21, 'a', { direction: 'out', sent_by: 'ai', status: 'sending', decision_id: null }))
    expect(store.messages).toHaveLength(1)
    expect(store.messages[0]).toMatchObject({ status: 'sent', decision_id: 7 })
  })

  it('ignores status changes of conversations that are not open', () => {
    const store = seeded()
    openLocally(store, 'a')
    store.applyMessageStatus(msg(22, 'b', { status: 'sent' }))
    expect(store.messages).toHaveLength(0)
  })
})

describe('conversations store: conversation.updated', () => {
  it('replaces the row in place', () => {
    const store = seeded()
    store.applyConversation(conv('b', { mode: 'pending_human', holder: 'none', lease_version: 2, unread_count: 3 }))
    expect(store.items.map((c) => c.id)).toEqual(['a', 'b', 'c'])
    expect(store.items[1]).toMatchObject({ mode: 'pending_human', holder: 'none', unread_count: 3 })
  })

  it('ignores an update older than what it has (lease version)', () => {
    const store = seeded()
    store.applyConversation(conv('b', { mode: 'human', holder: 'staff', lease_version: 5 }))
    expect(store.applyConversation(conv('b', { mode: 'ai', lease_version: 4 }))).toBe(false)
    expect(store.items[1].mode).toBe('human')
  })

  it('updates the open conversation but keeps its notes and a zero unread count', () => {
    const store = seeded()
    openLocally(store, 'a')
    store.applyConversation(conv('a', { mode: 'human', holder: 'staff', holder_user_id: 'u-me', holder_name: '小李', lease_version: 2, unread_count: 2 }))
    expect(store.current).toMatchObject({ mode: 'human', holder_name: '小李', unread_count: 0 })
    expect(store.current!.notes).toHaveLength(1)
    expect(store.isHeldByMe(store.current)).toBe(true)
  })

  it('drops rows that leave the filter and adds rows that enter it, by time', () => {
    const store = useConversationsStore()
    store.filter = 'waiting'
    store.items = [
      conv('w1', { mode: 'pending_human', last_message_at: '2026-11-21T10:00:00Z' }),
      conv('w2', { mode: 'pending_human', last_message_at: '2026-11-21T08:00:00Z' }),
    ]
    store.applyConversation(conv('w1', { mode: 'human', holder: 'staff', lease_version: 2 }))
    expect(store.items.map((c) => c.id)).toEqual(['w2'])
    store.applyConversation(conv('w3', { mode: 'pending_human', last_message_at: '2026-11-21T09:00:00Z' }))
    store.applyConversation(conv('x', { mode: 'ai' }))
    expect(store.items.map((c) => c.id)).toEqual(['w3', 'w2'])
  })

  it('"mine" means held by this user', () => {
    const store = useConversationsStore()
    expect(store.matchesFilter(conv('m', { holder: 'staff', holder_user_id: 'u-me' }), 'mine')).toBe(true)
    expect(store.matchesFilter(conv('o', { holder: 'staff', holder_user_id: 'u-other' }), 'mine')).toBe(false)
  })
})

describe('conversations store: live events and HTTP', () => {
  it('applies events from the realtime connection, fetching a conversation it does not list', async () => {
    mockFetch((call: Call) => {
      if (call.url === '/api/conversations/new-1') return json(detail('new-1', { last_message_at: '2026-11-21T11:00:00Z' }))
      return json({}, 404)
    })
    const store = seeded()
    const off = store.connectRealtime()
    const rt = useRealtimeStore()
    rt._dispatch('message.new', envelope('message.new', msg(30, 'b'), 1))
    rt._dispatch('message.new', envelope('message.new', msg(30, 'b'), 1))
    rt._dispatch('conversation.updated', envelope('conversation.updated', conv('c', { mode: 'closed', lease_version: 3 }), 2))
    rt._dispatch('handoff.requested', envelope('handoff.requested', { conversation: conv('a', { mode: 'pending_human', lease_version: 2 }), reason: '客户要求转人工', summary: '', deadline: '2026-11-21T09:05:00Z' }, 3))
    expect(store.items.map((c) => c.id)).toEqual(['b', 'a', 'c'])
    expect(store.items[0].unread_count).toBe(1)
    expect(store.items[1].mode).toBe('pending_human')
    expect(store.items[2].mode).toBe('closed')

    rt._dispatch('message.new', envelope('message.new', msg(31, 'new-1'), 4))
    await waitFor(() => store.items.some((c) => c.id === 'new-1'))
    expect(store.items[0].id).toBe('new-1')
    expect(store.items[0]).not.toHaveProperty('notes')

    off()
    rt._dispatch('message.new', envelope('message.new', msg(32, 'c'), 5))
    expect(store.items[0].id).toBe('new-1')
  })

  it('opens a conversation (details, messages, read) and sends as staff', async () => {
    const { calls } = mockFetch((call: Call) => {
      const path = new URL(call.url, 'http://x').pathname
      if (path === '/api/conversations/a') return json(detail('a', { unread_count: 2, holder: 'ai' }))
      if (path === '/api/conversations/a/messages' && call.method === 'GET')
        return json({ items: [msg(1, 'a'), msg(2, 'a', { direction: 'out', sent_by: 'ai', decision_id: 5 })], has_more: true })
      if (path === '/api/conversations/a/read') return json(conv('a', { unread_count: 0 }))
      if (path === '/api/conversations/a/messages' && call.method === 'POST')
        return json(msg(3, 'a', { direction: 'out', sent_by: 'staff', status: 'sending', text: (call.body as { text: string }).text }))
      return json({}, 404)
    })
    const store = seeded()
    store.items[0].unread_count = 2
    await store.open('a')
    expect(store.items[0].unread_count).toBe(0)
    expect(store.messages.map((m) => m.id)).toEqual([1, 2])
    expect(store.hasMore).toBe(true)
    await flush()
    expect(calls.some((c) => c.method === 'POST' && c.url === '/api/conversations/a/read')).toBe(true)

    await store.send({ kind: 'text', text: '您好' })
    expect(calls.find((c) => c.method === 'POST' && c.url === '/api/conversations/a/messages')!.body).toEqual({ kind: 'text', text: '您好' })
    expect(store.messages.at(-1)).toMatchObject({ id: 3, sent_by: 'staff', text: '您好' })
    expect(store.items[0]).toMatchObject({ id: 'a', last_message_preview: '您好' })
    await flush()
    // The AI held the chat: the conversation is re-read to show the takeover.
    expect(calls.filter((c) => c.method === 'GET' && c.url === '/api/conversations/a')).toHaveLength(2)
  })

  it('loads the list with the filter and account', async () => {
    const { calls } = mockFetch(() => json({ items: [conv('a'), conv('b', { account_id: 'acc-2', account_nickname: '门店二号' })] }))
    const store = useConversationsStore()
    await store.setFilter('waiting')
    expect(calls[0].url).toBe('/api/conversations?filter=waiting&limit=50')
    expect(store.items).toHaveLength(2)
    expect(store.accounts).toEqual({ 'acc-1': '门店一号', 'acc-2': '门店二号' })
    await store.setAccount('acc-2')
    expect(calls[1].url).toBe('/api/conversations?filter=waiting&account_id=acc-2&limit=50')
  })
})
