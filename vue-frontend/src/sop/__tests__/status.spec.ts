import { describe, expect, it } from 'vitest'
import { allowedActions, sentPercent } from '@/sop/status'

describe('sop status', () => {
  it('maps each status to the actions it allows', () => {
    expect(allowedActions('draft')).toEqual(['start', 'edit', 'delete'])
    expect(allowedActions('running')).toEqual(['pause', 'cancel'])
    expect(allowedActions('paused')).toEqual(['resume', 'cancel', 'edit', 'delete'])
    expect(allowedActions('cancelled')).toEqual(['edit', 'delete'])
    expect(allowedActions('completed')).toEqual(['edit', 'delete'])
  })

  it('rounds the sent percentage down so that only a fully sent SOP shows 100', () => {
    expect(sentPercent({ sent: 0, total: 0 })).toBe(0)
    expect(sentPercent({ sent: 1, total: 3 })).toBe(33.3)
    expect(sentPercent({ sent: 1999, total: 2000 })).toBe(99.9)
    expect(sentPercent({ sent: 2000, total: 2000 })).toBe(100)
    expect(sentPercent(null)).toBe(0)
  })
})
