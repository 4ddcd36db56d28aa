/**
 * Time zone and display helpers of the SOP page. A SOP runs in its own time zone (Asia/Shanghai unless
 * told otherwise), which need not be the browser's: wall times of the editor are converted with Intl.
 */

type Translate = (key: string, params?: Record<string, unknown>) => string

/** Zones offered first in the editor (the team is in China; a few neighbours for overseas stores). */
export const COMMON_ZONES = [
  'Asia/Shanghai',
  'Asia/Hong_Kong',
  'Asia/Taipei',
  'Asia/Singapore',
  'Asia/Kuala_Lumpur',
  'Asia/Tokyo',
  'Asia/Seoul',
  'Asia/Bangkok',
  'Asia/Dubai',
  'Europe/London',
  'America/Los_Angeles',
  'UTC',
] as const

export function isValidZone(zone: string): boolean {
  if (!zone) return false
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone })
    return true
  } catch {
    return false
  }
}

/** Every zone the browser knows, the common ones first. */
export function zoneOptions(): string[] {
  const all: string[] = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : []
  const rest = all.filter((zone) => !(COMMON_ZONES as readonly string[]).includes(zone))
  return [...COMMON_ZONES, ...rest]
}

interface Parts {
  year: number
  month: number
  day: number
  hour: number
  minute: number
  second: number
}

const formatters = new Map<string, Intl.DateTimeFormat>()

function partsIn(date: Date, zone: string): Parts {
  let f = formatters.get(zone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: isValidZone(zone) ? zone : 'UTC',
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
    formatters.set(zone, f)
  }
  const out: Record<string, number> = {}
  for (const p of f.formatToParts(date)) if (p.type !== 'literal') out[p.type] = Number(p.value)
  return { year: out.year, month: out.month, day: out.day, hour: out.hour % 24, minute: out.minute, second: out.second }
}

/** Offset of `zone` from UTC at the instant `date`, in minutes (Asia/Shanghai: 480). */
export function zoneOffsetMinutes(date: Date, zone: string): number {
  const p = partsIn(date, zone)
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second)
  return Math.round((asUtc - Math.floor(date.getTime() / 1000) * 1000) / 60000)
}

function offsetText(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+'
  const abs = Math.abs(minutes)
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`
}

const pad = (n: number) => String(n).padStart(2, '0')

/** A wall time `YYYY-MM-DDTHH:mm[:ss]` in `zone` as an ISO date-time with that zone's offset. */
export function wallToIso(wall: string, zone: string): string {
  const m = wall.match(/^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?/)
  if (!m) return wall
  const [year, month, day, hour, minute, second] = m.slice(1).map((v) => Number(v ?? 0))
  const guess = Date.UTC(year, month - 1, day, hour, minute, second)
  let offset = zoneOffsetMinutes(new Date(guess), zone)
  const again = zoneOffsetMinutes(new Date(guess - offset * 60000), zone)
  if (again !== offset) offset = again
  return `${year}-${pad(month)}-${pad(day)}T${pad(hour)}:${pad(minute)}:${pad(second)}${offsetText(offset)}`
}

/** An ISO date-time as the wall time `YYYY-MM-DDTHH:mm:ss` of `zone` (naive input is taken as that zone's). */
export function isoToWall(iso: string | null | undefined, zone: string): string | null {
  if (!iso) return null
  if (!/(Z|[+-]\d{2}:?\d{2})$/i.test(iso)) return iso.replace(' ', 'T').slice(0, 19)
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return null
  const p = partsIn(date, zone)
  return `${p.year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}`
}

/** `YYYY-MM-DD HH:mm` of an instant in `zone`; '—' when there is none. */
export function formatInZone(iso: string | null | undefined, zone: string): string {
  const wall = isoToWall(iso, zone)
  return wall ? wall.slice(0, 16).replace('T', ' ') : '—'
}

/** `HH:MM` of a time the backend sends as `HH:MM:SS`. */
export function hhmm(value: string | null | undefined): string {
  return value ? value.slice(0, 5) : ''
}

/** An estimated duration in hours and minutes: 2 时 5 分, 45 分, 不到 1 分. */
export function formatDuration(seconds: number, t: Translate): string {
  if (!Number.isFinite(seconds) || seconds <= 0) return t('duration.none')
  const minutes = Math.ceil(seconds / 60)
  if (seconds < 60) return t('duration.underMinute')
  const h = Math.floor(minutes / 60)
  const m = minutes % 60
  if (!h) return t('duration.minutes', { m })
  return m ? t('duration.hoursMinutes', { h, m }) : t('duration.hours', { h })
}

export function count(value: number): string {
  return new Intl.NumberFormat('zh-CN').format(value)
}

export function shortId(value: string | null | undefined): string {
  return value ? value.slice(0, 8) : '—'
}
