import { beforeEach, describe, expect, it } from 'vitest'
import { mount, type VueWrapper } from '@vue/test-utils'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { createMemoryHistory, createRouter, type Router } from 'vue-router'
import { useAuthStore } from '@/auth/store'
import { i18n } from '@/common/i18n'
import type { ConversationDetail, MessageOut } from '@/conversations/api'
import ConversationsPage from '@/conversations/ConversationsPage.vue'
import { useRealtimeStore } from '@/realtime/store'
import { flush, json, makeUser, mockFetch, tokens, waitFor, type Call } from '../../../tests/unit/helpers'
import { detail, envelope, msg } from './fixtures'

let pinia: Pinia
let router: Router

beforeEach(async () => {
  pinia = createPinia()
  setActivePinia(pinia)
  useAuthStore().setSession(tokens(1, makeUser('sales', { id: 'u-me', display_name: '小李' })))
  router = createRouter({
    history: createMemoryHistory(),
    routes: [{ path: '/conversations', name: 'conversations', component: ConversationsPage }],
  })
})

/** A small stateful stand-in for the workbench API. */
function fakeBackend() {
  const conversations: Record<string, ConversationDetail> = {
    'c-1': detail('c-1', { title: '王女士', mode: 'pending_human', holder: 'none', mode_reason: '客户要求转人工', handoff_deadline: new Date(Date.now() + 120_000).toISOString(), unread_count: 1 }),
    'c-2': detail('c-2', { title: '张先生', last_message_at: '2026-11-21T07:00:00Z' }),
  }
  const messages: Record<string, MessageOut[]> = {
    'c-1': [msg(1, 'c-1', { text: '转人工' }), msg(2, 'c-1', { direction: 'out', sent_by: 'ai', status: 'sent', text: '好的，马上为您转接', decision_id: 77 })],
    'c-2': [],
  }
  let nextId = 100
  const strip = (c: ConversationDetail) => {
    const { notes: _notes, ...rest } = c
    return rest
  }
  const responder = (call: Call): Response => {
    const url = new URL(call.url, 'http://console')
    const path = url.pathname
    const m = path.match(/^\/api\/conversations\/([^/]+)(?:\/(.+))?$/)
    if (path === '/api/conversations') return json({ items: Object.values(conversations).map(strip) })
    if (path === '/api/conversations/staff') return json([{ id: 'u-2', display_name: '小王', role: 'sales' }])
    if (!m || !conversations[m[1]]) return json({ error: { code: 'not_found', message: 'no such conversation' } }, 404)
    const c = conversations[m[1]]
    const action = m[2]
    const bump = (changes: Partial<ConversationDetail>) => {
      Object.assign(c, changes, { lease_version: c.lease_version + 1 })
      return json(strip(c))
    }
    if (!action) return json(c)
    if (action === 'messages' && call.method === 'GET') return json({ items: messages[c.id], has_more: false })
    if (action === 'read') return json(strip(Object.assign(c, { unread_count: 0 })))
    if (action === 'takeover') return bump({ mode: 'human', holder: 'staff', holder_user_id: 'u-me', holder_name: '小李' })
    if (action === 'release') return bump({ mode: 'ai', holder: 'ai', holder_user_id: null, holder_name: null })
    if (action === 'resolve') return bump({ mode: 'closed', holder: 'none', holder_user_id: null, holder_name: null })
    if (action === 'messages' && call.method === 'POST') {
      const body = call.body as { text: string }
      const sent = msg(nextId++, c.id, { direction: 'out', sent_by: 'staff', sent_by_user_id: 'u-me', status: 'sending', text: body.text })
      messages[c.id].push(sent)
      if (c.holder !== 'staff') Object.assign(c, { mode: 'human', holder: 'staff', holder_user_id: 'u-me', holder_name: '小李', lease_version: c.lease_version + 1 })
      return json(sent)
    }
    if (action === 'notes') return json({ id: `n-${nextId++}`, author_name: '小李', text: (call.body as { text: string }).text, created_at: new Date().toISOString() })
    if (action === 'tags') {
      c.contact = { ...c.contact!, tags: (call.body as { tags: string[] }).tags }
      return json(strip(c))
    }
    if (action === 'decisions/77')
      return json({
        id: 77,
        conversation_id: c.id,
        trigger_message_id: 1,
        reply_message_id: 2,
        outcome: 'handoff',
        reason: '关键词：转人工',
        draft: '好的，马上为您转接',
        model: 'deepseek-chat',
        provider: 'deepseek',
        input_tokens: 812,
        output_tokens: 35,
        cost: '0.00123400',
        latency_ms: 930,
        kb_hits: [{ ref: 'kb:returns', title: '退货政策', content: '7 天无理由', score: 0.8123 }],
        checks: [{ name: 'lease', passed: true, detail: '' }, { name: 'sensitive_words', passed: false, detail: '命中“退款”' }],
        inputs: { history_messages: 2, persona: '热情的店员', customer_tags: ['老客户'], lease_version: 1 },
        created_at: '2026-11-21T09:00:01Z',
      })
    return json({}, 404)
  }
  return { conversations, messages, responder }
}

async function mountAt(path: string): Promise<VueWrapper> {
  await router.push(path)
  await router.isReady()
  return mount(ConversationsPage, { global: { plugins: [pinia, i18n, router] }, attachTo: document.body })
}

const sel = (id: string) => `[data-test="${id}"]`

describe('ConversationsPage', () => {
  it('opens ?id=, takes over, sends on Enter, releases to the AI', async () => {
    const backend = fakeBackend()
    const { calls } = mockFetch(backend.responder)
    const wrapper = await mountAt('/conversations?id=c-1')

    await waitFor(() => wrapper.findAll(sel('conversation-row')).length === 2)
    const rows = wrapper.findAll(sel('conversation-row'))
    expect(rows[0].attributes('data-id')).toBe('c-1')
    expect(rows[0].find(sel('mode-tag')).text()).toBe('待人工')
    expect(rows[1].find(sel('mode-tag')).text()).toBe('AI 接待')

    await waitFor(() => wrapper.findAll(sel('message')).length === 2)
    expect(wrapper.find(sel('chat-title')).text()).toBe('王女士')
    expect(wrapper.find(sel('chat-mode')).text()).toBe('待人工')
    expect(wrapper.findAll(sel('message')).map((m) => m.attributes('data-sent-by'))).toEqual(['customer', 'ai'])
    expect(wrapper.find(sel('message-label')).text()).toBe('AI')
    expect(wrapper.find(sel('mode-reason')).text()).toBe('客户要求转人工')
    expect(wrapper.find(sel('handoff-countdown')).text()).toMatch(/^剩余 \d+:\d\d$/)
    await waitFor(() => calls.some((c) => c.url === '/api/conversations/c-1/read'))

    await wrapper.find(sel('btn-takeover')).trigger('click')
    await waitFor(() => wrapper.find(sel('chat-mode')).text() === '人工接待')
    expect(wrapper.find(sel('chat-holder')).text()).toContain('小李')
    expect(wrapper.find(sel('btn-takeover')).attributes('disabled')).toBeDefined()

    const input = wrapper.find(`textarea${sel('composer-input')}`)
    await input.setValue('您好，我是人工客服小李')
    await input.trigger('keydown', { key: 'Enter' })
    await waitFor(() => wrapper.findAll(`${sel('message')}[data-sent-by="staff"]`).length === 1)
    expect(wrapper.find(`${sel('message')}[data-sent-by="staff"]`).text()).toContain('您好，我是人工客服小李')
    expect(calls.find((c) => c.method === 'POST' && c.url === '/api/conversations/c-1/messages')!.body).toEqual({
      kind: 'text',
      text: '您好，我是人工客服小李',
    })
    expect((input.element as HTMLTextAreaElement).value).toBe('')

    // the status event marks it sent
    const sent = backend.messages['c-1'].at(-1)!
    useRealtimeStore()._dispatch('message.status', envelope('message.status', { ...sent, status: 'sent' }, 9))
    await flush()
    expect(wrapper.find(`${sel('message')}[data-sent-by="staff"]`).attributes('data-status')).toBe('sent')

    await wrapper.find(sel('btn-release')).trigger('click')
    await waitFor(() => wrapper.find(sel('chat-mode')).text() === 'AI 接待')
    wrapper.unmount()
  })

  it('Shift+Enter does not send; a closed conversation disables the composer with a hint', async () => {
    const backend = fakeBackend()
    const { calls } = mockFetch(backend.responder)
    const wrapper = await mountAt('/conversations?id=c-2')
    await waitFor(() => wrapper.find(sel('chat-title')).exists() && wrapper.find(sel('chat-title')).text() === '张先生')
    expect(wrapper.find(sel('composer-hint')).text()).toContain('AI')

    const input = wrapper.find(`textarea${sel('composer-input')}`)
    await input.setValue('第一行')
    await input.trigger('keydown', { key: 'Enter', shiftKey: true })
    await flush()
    expect(calls.some((c) => c.method === 'POST' && c.url.endsWith('/messages'))).toBe(false)

    await wrapper.find(sel('btn-resolve')).trigger('click')
    await waitFor(() => wrapper.find(sel('chat-mode')).text() === '已结束')
    expect(wrapper.find(sel('composer-hint')).text()).toBe('会话已结束，无法发送消息')
    expect(wrapper.find(`textarea${sel('composer-input')}`).attributes('disabled')).toBeDefined()
    expect(wrapper.find(sel('composer-send')).attributes('disabled')).toBeDefined()
    wrapper.unmount()
  })

  it('moves a row up and counts unread on message.new; filters; opens rows from the list', async () => {
    const backend = fakeBackend()
    const { calls } = mockFetch(backend.responder)
    const wrapper = await mountAt('/conversations')
    await waitFor(() => wrapper.findAll(sel('conversation-row')).length === 2)
    expect(wrapper.find(sel('chat-empty')).exists()).toBe(true)

    useRealtimeStore()._dispatch('message.new', envelope('message.new', msg(50, 'c-2', { text: '还有货吗' }), 10))
    await flush()
    const first = wrapper.findAll(sel('conversation-row'))[0]
    expect(first.attributes('data-id')).toBe('c-2')
    expect(first.find(sel('row-preview')).text()).toBe('还有货吗')
    expect(first.find(sel('unread')).text()).toBe('1')

    await first.trigger('click')
    await waitFor(() => router.currentRoute.value.query.id === 'c-2')
    await waitFor(() => wrapper.find(sel('chat-title')).exists() && wrapper.find(sel('chat-title')).text() === '张先生')
    expect(wrapper.findAll(sel('conversation-row'))[0].find(sel('unread')).exists()).toBe(false)

    await wrapper.find(`${sel('filter-waiting')} input`).setValue(true)
    await waitFor(() => calls.some((c) => c.url.startsWith('/api/conversations?filter=waiting')))
    wrapper.unmount()
  })

  it('shows why the AI replied, edits tags and adds notes', async () => {
    const backend = fakeBackend()
    const { calls } = mockFetch(backend.responder)
    const wrapper = await mountAt('/conversations?id=c-1')
    await waitFor(() => wrapper.find(sel('btn-why')).exists())

    await wrapper.find(sel('btn-why')).trigger('click')
    await waitFor(() => !!document.querySelector(sel('why-outcome')))
    const drawer = document.querySelector(sel('why-drawer'))!
    expect(drawer.querySelector(sel('why-outcome'))!.textContent).toContain('转人工')
    expect(drawer.querySelector(sel('why-model'))!.textContent).toContain('deepseek-chat')
    expect(drawer.querySelector(sel('why-tokens'))!.textContent).toContain('812 / 35')
    expect(drawer.querySelector(sel('why-cost'))!.textContent).toContain('¥0.001234')
    expect(drawer.querySelector(sel('why-latency'))!.textContent).toContain('930')
    expect(drawer.querySelector(sel('why-kb-hit'))!.textContent).toContain('0.812')
    expect([...drawer.querySelectorAll(sel('why-check'))].map((c) => c.getAttribute('data-passed'))).toEqual(['true', 'false'])

    const tagInput = wrapper.find(`input${sel('tag-input')}`)
    await tagInput.setValue('高意向')
    await tagInput.trigger('keydown', { key: 'Enter' })
    await waitFor(() => wrapper.findAll(sel('tag')).length === 1)
    expect(calls.find((c) => c.method === 'PUT')!.body).toEqual({ tags: ['高意向'] })

    await wrapper.find(`textarea${sel('note-input')}`).setValue('想要退货')
    await wrapper.find(sel('note-add')).trigger('click')
    await waitFor(() => wrapper.findAll(sel('note')).length === 1)
    expect(wrapper.find(sel('note')).text()).toContain('想要退货')
    wrapper.unmount()
  })
})
