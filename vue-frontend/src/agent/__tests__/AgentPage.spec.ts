import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import AgentPage from '@/agent/AgentPage.vue'
import { i18n } from '@/common/i18n'
import { json, mockFetch, waitFor, type Call } from '../../../tests/unit/helpers'

const plan = {
  goal: '提升高价值老客复购率',
  duration_days: 7,
  budget: 30000,
  target_segment: { definition: '高价值老客', rules: ['近90天 >= 3 单'], estimated_size: 1272 },
  offer: { type: 'full_reduction', threshold: 140, value: 17, max_redemptions: 1764 },
  channels: ['wechat', 'sms'],
  kpi: { primary: 'repeat_rate', targets: ['券核销率 >= 15%'] },
  risk_controls: ['每人限领1张'],
  sql_preview: null,
}

function backend(call: Call): Response {
  const body = call.body as { query?: string }
  if (call.url === '/api/agent/execute') {
    return json({
      intent: 'execute',
      execution: { idempotency_key: 'abc123', coupon_id: 9, publish_status: 'published', error: null, replayed: false },
      debug: {},
    })
  }
  if (body.query?.includes('预算')) {
    return json({ intent: 'plan', answer: '已生成活动方案', report: null, plan, evidence: null, execution: null, debug: { route: { intent: 'plan' } } })
  }
  if (body.query?.includes('原因')) {
    return json({
      intent: 'diagnose',
      answer: '1. 发现',
      report: null,
      plan: null,
      execution: null,
      evidence: {
        claims: [
          { section: '发现', text: '复购率本期 19.7%，上期 41.5%', source: 'data', refs: ['q1'] },
          { section: '原因假设', text: '老客流失', source: 'kb', refs: ['kb:8'] },
        ],
        queries: [{ id: 'q1', purpose: '指标', final_sql: 'SELECT 1', columns: ['period'], labels: {}, rows: [{ period: '本期' }] }],
        knowledge: [{ ref: 'kb:8', title: '老客流失', content: '现象……', score: 0.03 }],
      },
      debug: {},
    })
  }
  return json({
    intent: 'report',
    answer: '共 2 行数据。',
    report: {
      columns: ['day', 'store', 'gmv'],
      labels: { day: '日期', store: '门店', gmv: 'GMV' },
      rows: [
        { day: '2026-11-21', store: '静安店', gmv: 100 },
        { day: '2026-11-22', store: '静安店', gmv: 120 },
      ],
      definitions: ['GMV = 支付成功订单的实付金额之和'],
    },
    plan: null,
    evidence: null,
    execution: null,
    debug: { sql: { q1: 'SELECT 1 LIMIT 1000' } },
  })
}

function mountPage() {
  return mount(AgentPage, { global: { plugins: [i18n] }, attachTo: document.body })
}

describe('AgentPage', () => {
  it('asks a sample question and shows the report table with its trend', async () => {
    const { calls } = mockFetch(backend)
    const wrapper = mountPage()
    await wrapper.find('[data-test="agent-sample-0"]').trigger('click')
    await waitFor(() => wrapper.find('[data-test="agent-report"]').exists())
    expect(calls[0].body).toEqual({ query: '最近7天各门店GMV、客单价、订单数，按天趋势' })
    expect(wrapper.find('[data-test="agent-report"]').text()).toContain('静安店')
    expect(wrapper.find('[data-test="agent-trend"]').exists()).toBe(true)
    wrapper.unmount()
  })

  it('shows diagnosis claims with their source tags and evidence links', async () => {
    mockFetch(backend)
    const wrapper = mountPage()
    await wrapper.find('[data-test="agent-sample-1"]').trigger('click')
    await waitFor(() => wrapper.find('[data-test="agent-diagnosis"]').exists())
    const text = wrapper.text()
    expect(text).toContain('(data)')
    expect(text).toContain('(kb)')
    expect(wrapper.findAll('[data-test="agent-evidence-link"]').map((l) => l.text())).toEqual(['[q1]', '[kb:8]'])
    wrapper.unmount()
  })

  it('publishes a plan and shows the receipt', async () => {
    const { calls } = mockFetch(backend)
    const wrapper = mountPage()
    await wrapper.find('[data-test="agent-sample-2"]').trigger('click')
    await waitFor(() => wrapper.find('[data-test="agent-execute"]').exists())
    await wrapper.find('[data-test="agent-execute"]').trigger('click')
    await waitFor(() => wrapper.find('[data-test="agent-receipt"]').exists())
    expect(calls[1].url).toBe('/api/agent/execute')
    expect(calls[1].body).toEqual({ plan })
    expect(wrapper.find('[data-test="agent-receipt"]').text()).toContain('published')
    wrapper.unmount()
  })

  it('shows the debug block only when the toggle is on', async () => {
    mockFetch(backend)
    const wrapper = mountPage()
    await wrapper.find('[data-test="agent-sample-0"]').trigger('click')
    await waitFor(() => wrapper.find('[data-test="agent-report"]').exists())
    expect(wrapper.find('[data-test="agent-debug"]').exists()).toBe(false)
    await wrapper.find('[data-test="agent-debug-toggle"]').trigger('click')
    await waitFor(() => wrapper.find('[data-test="agent-debug"]').exists())
    expect(wrapper.find('[data-test="agent-debug"]').text()).toContain('LIMIT 1000')
    wrapper.unmount()
  })
})
