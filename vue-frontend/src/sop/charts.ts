/**
 * ECharts option of the SOP progress chart (pure; type-only ECharts imports). The chart itself is drawn by
 * the finance page's lazy EChart.vue, so ECharts stays in its own chunk.
 */
import type { ChartOption } from '@/cost/charts'
import type { AccountProgress } from './api'

export const SERIES = ['sent', 'pending', 'skipped', 'dead', 'cancelled'] as const
export type SeriesKey = (typeof SERIES)[number]

const COLORS: Record<SeriesKey, string> = {
  sent: '#67c23a',
  pending: '#409eff',
  skipped: '#e6a23c',
  dead: '#f56c6c',
  cancelled: '#c0c4cc',
}

/** Still to go: pending, claimed by a sender, or being sent. */
export function waiting(a: AccountProgress): number {
  return a.pending + a.claimed + a.sending
}

/** One horizontal stacked bar per account: sent, waiting, skipped, failed, cancelled. */
export function accountsStackOption(accounts: AccountProgress[], label: (key: SeriesKey) => string): ChartOption {
  const rows = [...accounts].reverse()
  const value = (a: AccountProgress, key: SeriesKey) => (key === 'pending' ? waiting(a) : a[key])
  return {
    animation: false,
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    legend: { top: 0 },
    grid: { left: 8, right: 24, top: 32, bottom: 8, containLabel: true },
    xAxis: { type: 'value', minInterval: 1 },
    yAxis: { type: 'category', data: rows.map((a) => a.nickname || a.account_id.slice(0, 8)) },
    series: SERIES.map((key) => ({
      name: label(key),
      type: 'bar',
      stack: 'deliveries',
      barMaxWidth: 22,
      itemStyle: { color: COLORS[key] },
      data: rows.map((a) => value(a, key)),
    })),
  }
}
