import { beforeEach, describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'

// jsdom has no canvas: ECharts' init is replaced by a recorder of the options each chart receives.
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
// `use` is a no-op above, so the chart modules need not load (they are heavy to transform on a busy runner).
vi.mock('echarts/charts', () => ({ LineChart: {}, BarChart: {}, GaugeChart: {} }))
vi.mock('echarts/components', () => ({ GridComponent: {}, TooltipComponent: {}, LegendComponent: {} }))
vi.mock('echarts/renderers', () => ({ CanvasRenderer: {} }))
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import CostPage from '@/cost/CostPage.vue'
import { i18n } from '@/common/i18n'
import { json, mockFetch, waitFor, type Call } from '../../../tests/unit/helpers'

let pinia: Pinia

beforeEach(() => {
  charts.options.clear()
  pinia = createPinia()
  setActivePinia(pinia)
})

const totals = { calls: 4, failed_calls: 0, input_tokens: 4000, cached_input_tokens: 500, output_tokens: 300, cost: '0.00630000' }

function summary(groupBy: string) {
  const items: Record<string, unknown[]> = {
    'day,model': [
      { ...totals, key: '2026-11-20', sub_key: 'deepseek-chat', calls: 1, cost: '0.00200000' },
      { ...totals, key: '2026-11-21', sub_key: 'deepseek-chat', calls: 2, cost: '0.00400000' },
      { ...totals, key: '2026-11-21', sub_key: 'qwen-turbo', calls: 1, cost: '0.00030000' },
    ],
    account: [
      { ...totals, key: 'aaaaaaaa-0000-0000-0000-000000000001', calls: 3, cost: '0.00500000' },
      { ...totals, key: 'bbbbbbbb-0000-0000-0000-000000000002', calls: 1, cost: '0.00130000' },
    ],
    conversation: [{ ...totals, key: 'cccccccc-0000-0000-0000-000000000003', calls: 2, cost: '0.00400000' }],
    model: [
      { ...totals, key: 'deepseek-chat', calls: 3, cost: '0.00600000' },
      { ...totals, key: 'qwen-turbo', calls: 1, cost: '0.00030000' },
    ],
  }
  const top = ['conversation', 'account', 'user'].includes(groupBy)
  return {
    group_by: groupBy,
    from: '2026-10-23',
    to: '2026-11-21',
    currency: 'CNY',
    total: totals,
    items: items[groupBy] ?? [],
    ...(top ? { groups: groupBy === 'conversation' ? 7 : (items[groupBy] ?? []).length, rest: { ...totals, calls: 2, cost: '0.00230000' } } : {}),
  }
}

const budget = {
  id: 'b-1',
  name: '全公司月度',
  scope: 'organization',
  scope_id: null,
  period: 'monthly',
  quota_kind: 'money',
  quota: '100.00000000',
  soft_threshold: '0.800',
  hard_action: 'alert',
  downgrade_model: null,
  webhook_url: null,
  enabled: true,
  window_start: '2026-11-01',
  used: '85.00000000',
  ratio: '0.85',
  exceeded: false,
}

/** The option the (mocked) ECharts instance inside the element matching `selector` received. */
function optionIn(wrapper: ReturnType<typeof mount>, selector: string): Record<string, any> | undefined {
  const found = wrapper.find(selector)
  if (!found.exists()) return undefined
  const root = found.element
  for (const [el, option] of charts.options) if (root === el || root.contains(el)) return option
  return undefined
}

function backend(call: Call): Response {
  const url = new URL(call.url, 'http://console')
  if (url.pathname === '/api/cost/summary') return json(summary(url.searchParams.get('group_by') ?? 'day'))
  if (url.pathname === '/api/cost/ledger') {
    return json({
      items: [
        {
          id: 1,
          request_id: 'r-1',
          attempt: 1,
          user_id: null,
          account_id: null,
          conversation_id: null,
          origin: 'ai_reply',
          purpose: 'reply',
          provider: 'deepseek',
          model: 'deepseek-chat',
          input_tokens: 1000,
          cached_input_tokens: 0,
          output_tokens: 100,
          latency_ms: 420,
          status: 'ok',
          error: null,
          cost: '0.00230000',
          offline: false,
          created_at: '2026-11-21T08:00:00Z',
        },
      ],
      next_cursor: 'abc',
    })
  }
  if (url.pathname === '/api/cost/budgets') return json({ items: [budget] })
  if (url.pathname === '/api/cost/prices') return json({ items: [] })
  return json({ error: { code: 'not_found', message: 'no route' } }, 404)
}

describe('CostPage', () => {
  it('shows the total and feeds the stacked spend chart by model from the day,model summary', async () => {
    const { calls } = mockFetch(backend)
    const wrapper = mount(CostPage, { global: { plugins: [pinia, i18n] }, attachTo: document.body })

    // The chart component is a lazy chunk: the first test compiles it.
    await waitFor(() => optionIn(wrapper, '[data-test="cost-chart"]') !== undefined, 20_000)

    expect(wrapper.find('[data-test="cost-total"]').text()).toBe('¥0.0063')
    expect(calls.some((c) => c.url.includes('group_by=day%2Cmodel'))).toBe(true)
    const option = optionIn(wrapper, '[data-test="cost-chart"]')!
    expect(option.xAxis.data).toHaveLength(30)
    expect(option.series.map((s: { name: string }) => s.name)).toEqual(['deepseek-chat', 'qwen-turbo'])
    expect(option.series.every((s: { stack: string; type: string }) => s.stack === 'cost' && s.type === 'line')).toBe(true)
    expect(option.series[0].data.slice(-2)).toEqual([0.002, 0.004])
    expect(option.series[1].data.slice(-2)).toEqual([0, 0.0003])
    expect(wrapper.find('[data-test="cost-chart-spend"]').attributes('data-points')).toBe('60')
    expect(wrapper.find('[data-test="cost-by-model"]').text()).toContain('deepseek-chat')
    wrapper.unmount()
  })

  it('draws top accounts as bars, one gauge per budget and the top conversations with the rest', async () => {
    mockFetch(backend)
    const wrapper = mount(CostPage, { global: { plugins: [pinia, i18n] }, attachTo: document.body })

    await waitFor(
      () => optionIn(wrapper, '[data-test="cost-gauge"]') !== undefined && optionIn(wrapper, '[data-test="cost-top-accounts"]') !== undefined,
      20_000,
    )

    const bars = optionIn(wrapper, '[data-test="cost-top-accounts"]')!
    expect(bars.yAxis.data).toEqual(['bbbbbbbb', 'aaaaaaaa'])
    expect(bars.series[0]).toMatchObject({ type: 'bar', data: [0.0013, 0.005] })
    expect(wrapper.find('[data-test="cost-top-users"]').text()).toContain('暂无数据')
    expect(wrapper.findAll('[data-test="cost-gauge"]')).toHaveLength(1)
    const gauge = optionIn(wrapper, '[data-test="cost-gauge"]')!.series[0]
    expect(gauge).toMatchObject({ type: 'gauge', max: 100, data: [{ value: 85 }] })
    expect(gauge.progress.itemStyle.color).toBe('#e6a23c')
    expect(wrapper.find('[data-test="cost-top-conversations"]').text()).toContain('cccccccc')
    expect(wrapper.find('[data-test="cost-conversations-rest"]').text()).toBe('其余 6 个会话共 ¥0.0023')
    wrapper.unmount()
  })

  it('lists ledger rows and offers the next page when the API returns a cursor', async () => {
    const { calls } = mockFetch(backend)
    const wrapper = mount(CostPage, { global: { plugins: [pinia, i18n] }, attachTo: document.body })

    await waitFor(() => wrapper.find('[data-test="cost-ledger-more"]').exists())
    await wrapper.find('[data-test="cost-ledger-more"]').trigger('click')
    await waitFor(() => calls.some((c) => c.url.includes('cursor=abc')))

    expect(wrapper.find('[data-test="cost-ledger"]').text()).toContain('AI 回复')
    wrapper.unmount()
  })
})
