import { beforeEach, describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { createMemoryHistory } from 'vue-router'
import AuditPage from '@/audit/AuditPage.vue'
import { changesOf } from '@/audit/format'
import { useAuthStore } from '@/auth/store'
import { i18n } from '@/common/i18n'
import { createAppRouter } from '@/router'
import { json, makeUser, mockFetch, tokens, waitFor, type Call } from '../../../tests/unit/helpers'

let pinia: Pinia

beforeEach(() => {
  pinia = createPinia()
  setActivePinia(pinia)
})

const roleChange = {
  id: 2,
  created_at: '2026-12-03T08:00:00Z',
  actor_id: 'u-admin',
  actor_name: '系统管理员',
  action: 'user.role_change',
  target_type: 'user',
  target_id: 'u-sales-1234567',
  detail: { before: { role: 'sales' }, after: { role: 'manager' } },
}
const created = {
  id: 1,
  created_at: '2026-12-03T07:00:00Z',
  actor_id: null,
  actor_name: null,
  action: 'user.create',
  target_type: 'user',
  target_id: 'u-admin',
  detail: { after: { username: 'admin', role: 'admin' } },
}

function backend(call: Call): Response {
  const url = new URL(call.url, 'http://console')
  if (url.pathname === '/api/audit') {
    const action = url.searchParams.get('action')
    const items = [roleChange, created].filter((event) => !action || event.action === action)
    return json({ items, total: items.length })
  }
  if (url.pathname === '/api/audit/actions') return json(['user.create', 'user.role_change'])
  if (url.pathname === '/api/users') return json({ items: [makeUser('admin', { id: 'u-admin' })], total: 1 })
  return json({}, 404)
}

function mountPage() {
  return mount(AuditPage, { global: { plugins: [pinia, i18n] }, attachTo: document.body })
}

describe('AuditPage', () => {
  it('lists the events with actor, action label and the change made', async () => {
    mockFetch(backend)
    const wrapper = mountPage()
    await waitFor(() => wrapper.findAll('[data-test="audit-row-action"]').length === 2)
    const text = wrapper.find('[data-test="audit-table"]').text()
    expect(wrapper.findAll('[data-test="audit-row-action"]').map((tag) => tag.text())).toEqual(['变更角色', '创建用户'])
    expect(text).toContain('系统管理员')
    expect(text).toContain('系统 / 命令行')
    expect(text).toContain('sales → manager')
    expect(wrapper.find('[data-test="audit-total"]').text()).toBe('共 2 条')
    wrapper.unmount()
  })

  it('asks the backend again with the chosen action filter', async () => {
    const { calls } = mockFetch(backend)
    const wrapper = mountPage()
    await waitFor(() => wrapper.findAll('[data-test="audit-row-action"]').length === 2)
    ;(wrapper.vm as unknown as { filters: { action: string } }).filters.action = 'user.create'
    await waitFor(() => wrapper.findAll('[data-test="audit-row-action"]').length === 1)
    const last = calls.filter((call) => call.url.startsWith('/api/audit?')).at(-1)!
    expect(new URL(last.url, 'http://console').searchParams.get('action')).toBe('user.create')
    expect(new URL(last.url, 'http://console').searchParams.get('offset')).toBe('0')
    wrapper.unmount()
  })
})

describe('audit changes', () => {
  it('shows updates as before and after, creations as the new values', () => {
    expect(changesOf(roleChange.detail)).toEqual([{ field: 'role', before: 'sales', after: 'manager' }])
    expect(changesOf({ after: { quota: '50' } })).toEqual([{ field: 'quota', before: undefined, after: '50' }])
    expect(changesOf({ reason: '人工' })).toEqual([{ field: 'reason', after: '人工' }])
  })
})

describe('audit route', () => {
  it('is in the navigation of admins only', async () => {
    const router = createAppRouter(createMemoryHistory())
    useAuthStore().setSession(tokens(1, makeUser('manager')))
    await router.push('/audit')
    expect(router.currentRoute.value.name).toBe('forbidden')
    useAuthStore().setSession(tokens(2, makeUser('admin')))
    await router.push('/audit')
    expect(router.currentRoute.value.name).toBe('audit')
  })
})
