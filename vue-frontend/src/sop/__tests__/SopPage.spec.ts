import { beforeEach, describe, expect, it, vi } from 'vitest'
import { mount, type VueWrapper } from '@vue/test-utils'

// jsdom has no canvas: ECharts' init is replaced by a recorder (as in the finance page's tests).
const charts = vi.hoisted(() => ({ options: new Map<HTMLElement, Record<string, any>>() }))
vi.mock('echarts/core', () => ({
  use: () => undefined,
  init: (el: HTMLElement) => ({
    on: () => undefined,
    resize: () => undefined,
    dispose: () => charts.options.delete(el),
    setOption: (option: Record<string, any>) => charts.options.set(el, option),
  }),
}))
vi.mock('echarts/charts', () => ({ LineChart: {}, BarChart: {}, GaugeChart: {} }))
vi.mock('echarts/components', () => ({ GridComponent: {}, TooltipComponent: {}, LegendComponent: {} }))
vi.mock('echarts/renderers', () => ({ CanvasRenderer: {} }))
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { createMemoryHistory, createRouter, type Router } from 'vue-router'
import { useAuthStore } from '@/auth/store'
import { i18n } from '@/common/i18n'
import { useRealtimeStore } from '@/realtime/store'
import type { SopOut } from '@/sop/api'
import SopPage from '@/sop/SopPage.vue'
import { json, makeUser, mockFetch, tokens, waitFor, type Call } from '../../../tests/unit/helpers'
import { ACC_1, ACC_2, account, envelope, progress, sop } from './fixtures'

let pinia: Pinia
let router: Router

beforeEach(async () => {
  charts.options.clear()
  pinia = createPinia()
  setActivePinia(pinia)
  useAuthStore().setSession(tokens(1, makeUser('manager')))
  router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/sop', name: 'sop', component: SopPage }] })
  await router.push('/sop')
})

const preview = {
  total_targets: 10,
  total_messages: 20,
  estimated_seconds: 3 * 3600 + 20 * 60,
  accounts: [
    { account_id: ACC_1, nickname: '门店一号', status: 'online', targets: 4, groups: 0, messages: 8, per_minute_cap: 6, daily_cap: null, sent_today: 0, estimated_seconds: 80, days_needed: 1, warnings: [] },
    { account_id: ACC_2, nickname: '门店二号', status: 'offline', targets: 6, groups: 1, messages: 12, per_minute_cap: 6, daily_cap: 5, sent_today: 2, estimated_seconds: 12000, days_needed: 3, warnings: ['账号离线'] },
  ],
  warnings: ['门店二号 受每日上限限制'],
  samples: [
    {
      target: { contact_id: 'c-1', account_id: ACC_1, wxid: 'wxid_c1', nickname: '王女士', remark: '', is_group: false, tags: [], added_at: '2026-11-20T00:00:00Z' },
      steps: [{ step_id: 'step-1', position: 1, kind: 'text', text: '王女士您好，第 1 条', title: '', due_at: '2026-11-21T02:00:00Z' }],
    },
  ],
}

function fakeBackend() {
  const state: { sop: SopOut } = {
    sop: sop('s-1', { name: '新客 7 天培育', targets: { account_ids: [ACC_1, ACC_2], kinds: 'friends', tags: [], tag_mode: 'any', contact_ids: [] } }),
  }
  const responder = (call: Call): Response => {
    const path = new URL(call.url, 'http://console').pathname
    if (path === '/api/sops') return json([state.sop])
    if (path === '/api/accounts') return json({ items: [], total: 0 })
    if (path === '/api/sops/target-count') return json({ total: 10, accounts: [] })
    if (path === '/api/sops/s-1') return json(state.sop)
    if (path === '/api/sops/s-1/preview') return json(preview)
    if (path === '/api/sops/s-1/deliveries' || path === '/api/sops/s-1/targets') return json({ total: 0, items: [] })
    if (path === '/api/sops/s-1/start' && call.method === 'POST') {
      state.sop = {
        ...state.sop,
        status: 'running',
        started_at: '2026-11-21T02:00:00Z',
        progress: progress('s-1', [account(ACC_1, '门店一号', { pending: 8, total: 8 }), account(ACC_2, '门店二号', { pending: 12, total: 12 })]),
      }
      return json(state.sop)
    }
    return json({ error: { code: 'not_found', message: `no ${path}` } }, 404)
  }
  return { state, ...mockFetch(responder) }
}

const q = (selector: string) => document.body.querySelector(selector) as HTMLElement | null
const percentOf = (testid: string) => q(`[data-testid="${testid}"]`)?.getAttribute('data-percent') ?? null

async function mountPage(): Promise<VueWrapper> {
  const wrapper = mount(SopPage, { global: { plugins: [pinia, router, i18n] }, attachTo: document.body })
  await waitFor(() => wrapper.find('[data-testid="sop-row-s-1"]').exists())
  return wrapper
}

describe('SopPage', () => {
  it('opens a SOP from its row, previews before starting, and starts it on confirmation', async () => {
    const { calls } = fakeBackend()
    const wrapper = await mountPage()
    await wrapper.find('[data-testid="sop-row-s-1"]').trigger('click')
    await waitFor(() => !!q('[data-testid="sop-start"]'))
    expect(router.currentRoute.value.query.id).toBe('s-1')
    expect(q('[data-testid="sop-pause"]')).toBeNull()

    q('[data-testid="sop-start"]')!.click()
    await waitFor(() => q('[data-testid="sop-preview-messages"]')?.getAttribute('data-value') === '20')
    const dialog = q('[data-test="sop-preview-body"]')!.textContent!
    expect(dialog).toContain('3 时 20 分')
    expect(dialog).toContain('门店二号 受每日上限限制')
    expect(dialog).toContain('约需 3 天发完')
    expect(dialog).toContain('王女士您好，第 1 条')
    expect(calls.some((c) => c.url.endsWith('/start'))).toBe(false)

    q('[data-testid="sop-preview-confirm"]')!.click()
    await waitFor(() => !!q('[data-testid="sop-pause"]'))
    expect(calls.filter((c) => c.method === 'POST' && c.url === '/api/sops/s-1/start')).toHaveLength(1)
    expect(q('[data-testid="sop-start"]')).toBeNull()
    expect(q('[data-testid="sop-cancel"]')).not.toBeNull()
    expect(percentOf('sop-progress-total')).toBe('0')
    wrapper.unmount()
  })

  it('moves the total and per-account progress bars with sop.progress events', async () => {
    const { state } = fakeBackend()
    state.sop = {
      ...state.sop,
      status: 'running',
      progress: progress('s-1', [account(ACC_1, '门店一号', { pending: 8, total: 8 }), account(ACC_2, '门店二号', { pending: 12, total: 12 })]),
    }
    await router.push('/sop?id=s-1')
    const wrapper = await mountPage()
    await waitFor(() => percentOf('sop-progress-total') === '0')
    const rt = useRealtimeStore()

    rt._dispatch('sop.progress', envelope('sop.progress', progress('s-1', [account(ACC_1, '门店一号', { sent: 4, pending: 4, total: 8 }), account(ACC_2, '门店二号', { sent: 3, pending: 9, total: 12 })]), 21))
    await waitFor(() => percentOf('sop-progress-total') === '35')
    expect(percentOf(`sop-progress-${ACC_1}`)).toBe('50')
    expect(percentOf(`sop-progress-${ACC_2}`)).toBe('25')
    expect(percentOf('sop-row-progress-s-1')).toBe('35')

    const done = progress('s-1', [account(ACC_1, '门店一号', { sent: 8, total: 8 }), account(ACC_2, '门店二号', { sent: 12, total: 12 })], 'completed')
    // The backend has finished it too: the page re-reads a SOP whose status an event changed.
    state.sop = { ...state.sop, status: 'completed', status_reason: '全部发送完成', finished_at: '2026-11-21T03:00:00Z', progress: done }
    rt._dispatch('sop.progress', envelope('sop.progress', done, 22))
    await waitFor(() => percentOf('sop-progress-total') === '100')
    expect(percentOf(`sop-progress-${ACC_1}`)).toBe('100')
    expect(percentOf(`sop-progress-${ACC_2}`)).toBe('100')
    expect(q('[data-testid="sop-status"]')!.getAttribute('data-status')).toBe('completed')
    expect(q('[data-testid="sop-pause"]')).toBeNull()
    wrapper.unmount()
  })
})
