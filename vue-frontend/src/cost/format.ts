/** Display helpers: money stays a decimal string until it is shown. */

export function yuan(value: string | number, digits = 4): string {
  const n = Number(value)
  return Number.isFinite(n) ? `¥${n.toFixed(digits)}` : String(value)
}

export function count(value: number): string {
  return new Intl.NumberFormat('zh-CN').format(value)
}

export function percent(ratio: string | number): number {
  const n = Number(ratio) * 100
  return Number.isFinite(n) ? Math.min(100, Math.round(n * 10) / 10) : 0
}

export function shortId(value: string | null): string {
  return value ? value.slice(0, 8) : '—'
}
