import { describe, expect, it } from 'vitest'
import { budgetColor, budgetGaugeOption, daysBetween, pointCount, spendByModelOption, topBarsOption } from '@/cost/charts'
import type { Budget, SummaryItem } from '@/cost/api'

const zero = { calls: 1, failed_calls: 0, input_tokens: 0, cached_input_tokens: 0, output_tokens: 0 }
const item = (key: string | null, cost: string, sub_key?: string): SummaryItem => ({ ...zero, key, sub_key, cost })

describe('charts', () => {
  it('lists every day of the range, across a month end', () => {
    expect(daysBetween('2026-10-30', '2026-11-02')).toEqual(['2026-10-30', '2026-10-31', '2026-11-01', '2026-11-02'])
  })

  it('stacks spend per model on a full day axis, the biggest model first, empty days at zero', () => {
    const option = spendByModelOption(
      [item('2026-11-01', '0.1', 'qwen-turbo'), item('2026-11-03', '2.5', 'deepseek-chat'), item('2026-11-03', '0.2', 'qwen-turbo')],
      '2026-11-01',
      '2026-11-03',
    ) as any
    expect(option.xAxis.data).toEqual(['2026-11-01', '2026-11-02', '2026-11-03'])
    expect(option.series.map((s: any) => [s.name, s.data])).toEqual([
      ['deepseek-chat', [0, 0, 2.5]],
      ['qwen-turbo', [0.1, 0, 0.2]],
    ])
    expect(pointCount(option)).toBe(6)
  })

  it('puts the top group at the top of the horizontal bars', () => {
    const option = topBarsOption([item('aaaaaaaa-1', '3'), item(null, '1')], 'cost') as any
    expect(option.yAxis).toMatchObject({ type: 'category', data: ['—', 'aaaaaaaa'] })
    expect(option.series[0].data).toEqual([1, 3])
  })

  it('colours a budget gauge from its soft threshold and caps the needle at the quota', () => {
    const budget = { name: 'b', quota_kind: 'tokens', quota: '1000', used: '1200', ratio: '1.2', soft_threshold: '0.8', exceeded: true } as Budget
    expect(budgetColor({ ratio: '0.5', soft_threshold: '0.8', exceeded: false })).toBe('#67c23a')
    expect(budgetColor({ ratio: '0.8', soft_threshold: '0.8', exceeded: false })).toBe('#e6a23c')
    expect(budgetColor(budget)).toBe('#f56c6c')
    const gauge = (budgetGaugeOption(budget) as any).series[0]
    expect(gauge.max).toBe(1000)
    expect(gauge.data[0]).toEqual({ value: 1000, name: '1,200' })
    expect(gauge.axisLine.lineStyle.color[0][0]).toBe(0.8)
  })

  it('escapes the budget name in the gauge tooltip, which ECharts renders as HTML', () => {
    const budget = { name: '<img src=x onerror=alert(1)>', quota_kind: 'tokens', quota: '10', used: '1', ratio: '0.1', soft_threshold: '0.8', exceeded: false } as Budget
    const tooltip = (budgetGaugeOption(budget) as any).tooltip.formatter()
    expect(tooltip).toBe('&lt;img src=x onerror=alert(1)&gt;: 1 / 10')
  })
})
