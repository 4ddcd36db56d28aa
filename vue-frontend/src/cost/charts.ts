/**
 * ECharts options of the finance dashboard, built from the cost API's summaries. Pure functions (type-only
 * ECharts imports): the page builds options without loading ECharts, which only the lazy EChart.vue chunk does.
 */
import type { BarSeriesOption, GaugeSeriesOption, LineSeriesOption } from 'echarts/charts'
import type { GridComponentOption, LegendComponentOption, TooltipComponentOption } from 'echarts/components'
import type { ComposeOption } from 'echarts/core'
import type { Budget, SummaryItem } from './api'
import { shortId, yuan } from './format'

export type ChartOption = ComposeOption<
  LineSeriesOption | BarSeriesOption | GaugeSeriesOption | GridComponentOption | LegendComponentOption | TooltipComponentOption
>

export const COLORS = { ok: '#67c23a', warning: '#e6a23c', danger: '#f56c6c', track: '#e4e7ed' }

const HTML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Text made safe for ECharts' HTML tooltips: a formatter's return value is set as innerHTML. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ENTITIES[char])
}

/** Every China-time day from..to (ISO dates, both included). */
export function daysBetween(from: string, to: string): string[] {
  const days: string[] = []
  for (let day = new Date(`${from}T00:00:00Z`); day.toISOString().slice(0, 10) <= to; day.setUTCDate(day.getUTCDate() + 1)) {
    days.push(day.toISOString().slice(0, 10))
  }
  return days
}

/** Spend per day stacked by model (from a group_by=day,model summary); days without calls at zero. */
export function spendByModelOption(items: SummaryItem[], from: string, to: string): ChartOption {
  const days = daysBetween(from, to)
  const index = new Map(days.map((day, i) => [day, i]))
  const perModel = new Map<string, number[]>()
  for (const item of items) {
    const model = item.sub_key ?? '—'
    const i = index.get(item.key ?? '')
    if (i === undefined) continue
    if (!perModel.has(model)) perModel.set(model, new Array<number>(days.length).fill(0))
    perModel.get(model)![i] += Number(item.cost)
  }
  // Biggest spender at the bottom of the stack.
  const models = [...perModel.entries()].sort((a, b) => sum(b[1]) - sum(a[1]))
  return {
    tooltip: { trigger: 'axis', valueFormatter: (value) => yuan(Number(value)) },
    legend: { type: 'plain', top: 0 },
    grid: { left: 56, right: 16, top: 36, bottom: 28 },
    xAxis: { type: 'category', boundaryGap: false, data: days },
    yAxis: { type: 'value', axisLabel: { formatter: (value: number) => `¥${value}` } },
    series: models.map(([model, data]) => ({
      name: model,
      type: 'line',
      stack: 'cost',
      areaStyle: {},
      symbol: 'none',
      emphasis: { focus: 'series' },
      data: data.map((value) => round(value)),
    })),
  }
}

/** Horizontal bars of the top groups by cost, the biggest on top. */
export function topBarsOption(items: SummaryItem[], name: string, label: (key: string | null) => string = shortId): ChartOption {
  const top = [...items].reverse()
  return {
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: (value) => yuan(Number(value)) },
    grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
    xAxis: { type: 'value', splitNumber: 3, axisLabel: { formatter: (value: number) => `¥${value}` } },
    yAxis: { type: 'category', data: top.map((item) => label(item.key)) },
    series: [{ name, type: 'bar', data: top.map((item) => round(Number(item.cost))), barMaxWidth: 18 }],
  }
}

/** Colour of a budget's usage: green, orange from the soft threshold on, red once exceeded. */
export function budgetColor(budget: Pick<Budget, 'ratio' | 'soft_threshold' | 'exceeded'>): string {
  if (budget.exceeded || Number(budget.ratio) >= 1) return COLORS.danger
  return Number(budget.ratio) >= Number(budget.soft_threshold) ? COLORS.warning : COLORS.ok
}

/** One gauge of a budget: used against the quota, the scale orange from the soft threshold and red past it. */
export function budgetGaugeOption(budget: Budget): ChartOption {
  const quota = Number(budget.quota)
  const used = Number(budget.used)
  const soft = Number(budget.soft_threshold)
  const money = budget.quota_kind === 'money'
  const format = (value: number) => (money ? yuan(value, 2) : new Intl.NumberFormat('zh-CN').format(Math.round(value)))
  return {
    tooltip: { formatter: () => `${escapeHtml(budget.name)}: ${format(used)} / ${format(quota)}` },
    series: [
      {
        name: budget.name,
        type: 'gauge',
        min: 0,
        max: quota,
        radius: '90%',
        progress: { show: true, width: 10, itemStyle: { color: budgetColor(budget) } },
        axisLine: { lineStyle: { width: 10, color: [[soft, COLORS.track], [1, '#fde2c4']] } },
        axisTick: { show: false },
        splitLine: { length: 6 },
        axisLabel: { show: false },
        pointer: { width: 4 },
        title: { offsetCenter: [0, '70%'], fontSize: 12 },
        detail: {
          offsetCenter: [0, '40%'],
          fontSize: 14,
          formatter: () => `${Math.round(Number(budget.ratio) * 1000) / 10}%`,
        },
        data: [{ value: Math.min(used, quota), name: format(used) }],
      },
    ],
  }
}

/** How many data points an option draws (the browser test checks the charts are fed). */
export function pointCount(option: ChartOption): number {
  const series = Array.isArray(option.series) ? option.series : option.series ? [option.series] : []
  return series.reduce((n, s) => n + (Array.isArray(s.data) ? s.data.length : 0), 0)
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0)
}

/** Chart values to 1e-6 yuan (float noise off the tooltip). */
function round(value: number): number {
  return Math.round(value * 1e6) / 1e6
}
