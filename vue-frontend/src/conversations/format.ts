/** Display helpers of the workbench (local time). */

const pad = (n: number) => String(n).padStart(2, '0')

function parse(iso: string | null | undefined): Date | null {
  if (!iso) return null
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? null : d
}

/** List time: HH:mm today, "yesterday" label yesterday, MM-DD this year, else YYYY-MM-DD. */
export function listTime(iso: string | null | undefined, yesterday: string, now: Date = new Date()): string {
  const d = parse(iso)
  if (!d) return ''
  const sameDay = (a: Date, b: Date) =>
    a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate()
  if (sameDay(d, now)) return `${pad(d.getHours())}:${pad(d.getMinutes())}`
  const y = new Date(now)
  y.setDate(now.getDate() - 1)
  if (sameDay(d, y)) return yesterday
  if (d.getFullYear() === now.getFullYear()) return `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`
}

/** Message time: YYYY-MM-DD HH:mm:ss. */
export function fullTime(iso: string | null | undefined): string {
  const d = parse(iso)
  if (!d) return ''
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/** Milliseconds left until `iso` (negative when past), or null. */
export function msUntil(iso: string | null | undefined, now: number = Date.now()): number | null {
  const d = parse(iso)
  return d ? d.getTime() - now : null
}

/** A duration as m:ss, or h:mm:ss past an hour (sign dropped). */
export function duration(ms: number): string {
  const total = Math.floor(Math.abs(ms) / 1000)
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = total % 60
  return h ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`
}

export function yuan(value: string | number, digits = 4): string {
  const n = Number(value)
  return Number.isFinite(n) ? `¥${n.toFixed(digits)}` : String(value)
}

export type TagType = 'primary' | 'success' | 'info' | 'warning' | 'danger'

/** Colour of a conversation mode's tag. */
export const MODE_TAG_TYPES: Record<string, TagType> = {
  ai: 'success',
  pending_human: 'danger',
  human: 'primary',
  closed: 'info',
}
