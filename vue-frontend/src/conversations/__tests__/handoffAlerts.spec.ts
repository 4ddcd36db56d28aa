import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { nextTick } from 'vue'
import { createPinia, setActivePinia } from 'pinia'
import { ElNotification } from 'element-plus'
import type { Role } from '@/common/types'
import { installHandoffAlerts, playBeep, resetBeep, shouldAlert } from '@/conversations/handoffAlerts'
import { useRealtimeStore } from '@/realtime/store'
import { flush } from '../../../tests/unit/helpers'
import { conv, envelope } from './fixtures'

const handoff = (overrides: Record<string, unknown> = {}) => ({
  conversation: conv('c-9', { title: '王女士', mode: 'pending_human', holder: 'none' }),
  reason: '客户说：转人工',
  summary: '问退货流程',
  deadline: '2026-11-21T09:05:00Z',
  ...overrides,
})

let offs: Array<() => void> = []

beforeEach(() => {
  setActivePinia(createPinia())
  resetBeep()
})

afterEach(async () => {
  offs.forEach((off) => off())
  offs = []
  ElNotification.closeAll()
  vi.unstubAllGlobals()
  await flush()
  document.body.innerHTML = ''
})

function install(role: Role | null, userId = 'u-me') {
  const push = vi.fn(async () => undefined)
  const beep = vi.fn()
  const rt = useRealtimeStore()
  offs.push(installHandoffAlerts({ realtime: rt, auth: { role, user: role ? { id: userId } : null }, router: { push }, beep }))
  return { rt, push, beep }
}

function toasts(): HTMLElement[] {
  return [...document.querySelectorAll<HTMLElement>('.handoff-toast')]
}

describe('handoff alerts', () => {
  it('shows a toast with the title and reason to a sales user, beeps, and 查看 opens the conversation', async () => {
    const { rt, push, beep } = install('sales')
    rt._dispatch('handoff.requested', envelope('handoff.requested', handoff(), 7))
    await nextTick()
    expect(toasts()).toHaveLength(1)
    const text = toasts()[0].textContent ?? ''
    expect(text).toContain('转人工请求')
    expect(text).toContain('王女士')
    expect(text).toContain('客户说：转人工')
    expect(beep).toHaveBeenCalledTimes(1)

    const view = toasts()[0].querySelector<HTMLElement>('[data-test="handoff-view"]')!
    expect(view.textContent).toContain('查看')
    view.click()
    expect(push).toHaveBeenCalledWith({ path: '/conversations', query: { id: 'c-9' } })
  })

  it.each<Role>(['manager', 'admin'])('also alerts a %s', async (role) => {
    const { rt } = install(role)
    rt._dispatch('handoff.requested', envelope('handoff.requested', handoff(), 1))
    await nextTick()
    expect(toasts()).toHaveLength(1)
  })

  it('shows nothing to a finance user or when logged out', async () => {
    const finance = install('finance')
    finance.rt._dispatch('handoff.requested', envelope('handoff.requested', handoff(), 1))
    await nextTick()
    expect(toasts()).toHaveLength(0)
    expect(finance.beep).not.toHaveBeenCalled()
    expect(shouldAlert(handoff(), { role: null, user: null })).toBe(false)
  })

  it('respects the recipients the backend names', async () => {
    expect(shouldAlert(handoff({ recipients: ['u-other'] }), { role: 'sales', user: { id: 'u-me' } })).toBe(false)
    expect(shouldAlert(handoff({ recipients: ['u-other', 'u-me'] }), { role: 'sales', user: { id: 'u-me' } })).toBe(true)
    const { rt } = install('sales')
    rt._dispatch('handoff.requested', envelope('handoff.requested', handoff({ recipients: ['u-other'] }), 1))
    await nextTick()
    expect(toasts()).toHaveLength(0)
  })

  it('shows an escalation, and a repeated event only once', async () => {
    const { rt } = install('manager')
    rt._dispatch('handoff.escalated', envelope('handoff.escalated', handoff({ reason: '转人工请求超时未接待' }), 4))
    rt._dispatch('handoff.escalated', envelope('handoff.escalated', handoff({ reason: '转人工请求超时未接待' }), 4))
    await nextTick()
    expect(toasts()).toHaveLength(1)
    expect(toasts()[0].textContent).toContain('转人工超时未接待')
  })

  it('stops after unsubscribing', async () => {
    const { rt } = install('sales')
    offs.pop()!()
    rt._dispatch('handoff.requested', envelope('handoff.requested', handoff(), 1))
    await nextTick()
    expect(toasts()).toHaveLength(0)
  })
})

describe('playBeep', () => {
  it('does nothing and does not throw without AudioContext (jsdom)', () => {
    vi.stubGlobal('AudioContext', undefined)
    expect(() => playBeep()).not.toThrow()
  })

  it('does not throw when AudioContext refuses to start', () => {
    vi.stubGlobal(
      'AudioContext',
      class {
        constructor() {
          throw new Error('not allowed')
        }
      },
    )
    expect(() => playBeep()).not.toThrow()
  })

  it('plays two short tones with WebAudio', () => {
    const started: number[] = []
    const param = () => ({ setValueAtTime: vi.fn(), exponentialRampToValueAtTime: vi.fn() })
    class FakeAudioContext {
      state = 'suspended'
      currentTime = 1
      destination = {}
      resume = vi.fn(() => Promise.reject(new Error('needs a gesture')))
      createOscillator() {
        return { type: '', frequency: param(), connect: vi.fn(), start: (at: number) => started.push(at), stop: vi.fn() }
      }
      createGain() {
        return { gain: param(), connect: vi.fn() }
      }
    }
    vi.stubGlobal('AudioContext', FakeAudioContext)
    expect(() => playBeep()).not.toThrow()
    expect(started).toHaveLength(2)
  })

  it('a handoff with the real beep does not throw without AudioContext', async () => {
    vi.stubGlobal('AudioContext', undefined)
    const rt = useRealtimeStore()
    offs.push(installHandoffAlerts({ realtime: rt, auth: { role: 'sales', user: { id: 'u-me' } }, router: { push: vi.fn() } }))
    expect(() => rt._dispatch('handoff.requested', envelope('handoff.requested', handoff(), 2))).not.toThrow()
    await nextTick()
    expect(toasts()).toHaveLength(1)
  })
})
