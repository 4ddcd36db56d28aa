import { describe, expect, it } from 'vitest'
import { formatDuration, formatInZone, isoToWall, wallToIso } from '@/sop/format'
import { sopMessages } from '@/sop/messages'

const zh = sopMessages['zh-CN'].duration
const t = (key: string, params: Record<string, unknown> = {}) =>
  (zh[key.replace('duration.', '') as keyof typeof zh] ?? key).replace(/\{(\w+)\}/g, (_, k: string) => String(params[k]))

describe('sop format', () => {
  it('formats estimated durations in hours and minutes (时/分)', () => {
    expect(formatDuration(0, t)).toBe('—')
    expect(formatDuration(30, t)).toBe('不到 1 分钟')
    expect(formatDuration(45 * 60, t)).toBe('45 分')
    expect(formatDuration(2 * 3600, t)).toBe('2 时')
    expect(formatDuration(2 * 3600 + 5 * 60 + 10, t)).toBe('2 时 6 分')
  })

  it('converts wall times of a time zone to instants and back', () => {
    expect(wallToIso('2026-11-21T10:00:00', 'Asia/Shanghai')).toBe('2026-11-21T10:00:00+08:00')
    expect(wallToIso('2026-07-01T10:00', 'Europe/London')).toBe('2026-07-01T10:00:00+01:00')
    expect(isoToWall('2026-11-21T02:00:00Z', 'Asia/Shanghai')).toBe('2026-11-21T10:00:00')
    expect(formatInZone('2026-11-21T16:30:00+00:00', 'Asia/Shanghai')).toBe('2026-11-22 00:30')
  })
})
