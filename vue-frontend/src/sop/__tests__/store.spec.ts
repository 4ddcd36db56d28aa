import { beforeEach, describe, expect, it } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { useAuthStore } from '@/auth/store'
import { useRealtimeStore } from '@/realtime/store'
import { useSopStore } from '@/sop/store'
import { json, makeUser, mockFetch, tokens, waitFor } from '../../../tests/unit/helpers'
import { ACC_1, ACC_2, account, envelope, progress, sop } from './fixtures'

beforeEach(() => {
  setActivePinia(createPinia())
  useAuthStore().setSession(tokens(1, makeUser('manager')))
})

function seeded() {
  const store = useSopStore()
  store.items = [
    sop('s-1', { status: 'running', progress: progress('s-1', [account(ACC_1, '门店一号', { pending: 10, total: 10 })]) }),
    sop('s-2', {
      status: 'running',
      progress: progress('s-2', [
        account(ACC_1, '门店一号', { pending: 4, total: 4 }),
        account(ACC_2, '门店二号', { pending: 6, total: 6 }),
      ]),
    }),
  ]
  return store
}

describe('sop store: sop.progress', () => {
  it('applies a sop.progress event to the right SOP and account', () => {
    const store = seeded()
    store.currentId = 's-2'
    store.current = store.items[1]
    const off = store.connectRealtime()
    const event = progress('s-2', [account(ACC_2, '门店二号', { pending: 2, sent: 4, total: 6 })])
    // The event names only the account that moved; the totals are the SOP's.
    event.totals = { ...event.totals, pending: 6, sent: 4, total: 10 }
    useRealtimeStore()._dispatch('sop.progress', envelope('sop.progress', event, 5))

    const s2 = store.items.find((s) => s.id === 's-2')!
    expect(s2.progress!.totals).toMatchObject({ sent: 4, pending: 6, total: 10 })
    expect(s2.progress!.accounts.find((a) => a.account_id === ACC_2)).toMatchObject({ sent: 4, pending: 2, total: 6 })
    expect(s2.progress!.accounts.find((a) => a.account_id === ACC_1)).toMatchObject({ sent: 0, pending: 4, total: 4 })
    expect(store.current!.progress!.accounts.find((a) => a.account_id === ACC_2)!.sent).toBe(4)
    // The other SOP, sharing account ACC_1, is untouched.
    expect(store.items.find((s) => s.id === 's-1')!.progress!.totals).toMatchObject({ sent: 0, pending: 10 })
    off()
  })

  it('takes the status a sop.progress event carries', () => {
    const store = seeded()
    store.applyProgress(progress('s-1', [account(ACC_1, '门店一号', { sent: 10, total: 10 })], 'completed'), 3)
    expect(store.items[0].status).toBe('completed')
    expect(store.items[0].progress!.status).toBe('completed')
  })

  it('ignores a sop.progress event older than one already applied to that SOP', () => {
    const store = seeded()
    expect(store.applyProgress(progress('s-1', [account(ACC_1, '门店一号', { sent: 7, pending: 3, total: 10 })]), 9)).toBe('applied')
    expect(store.applyProgress(progress('s-1', [account(ACC_1, '门店一号', { sent: 5, pending: 5, total: 10 })]), 8)).toBe('stale')
    expect(store.items[0].progress!.totals.sent).toBe(7)
  })

  it('keeps event-fed progress when a refetch that was on its way answers with older counts', async () => {
    const store = seeded()
    let answer: (r: Response) => void = () => undefined
    mockFetch(() => new Promise<Response>((resolve) => (answer = resolve)))
    const opening = store.open('s-1')
    store.applyProgress(progress('s-1', [account(ACC_1, '门店一号', { sent: 8, pending: 2, total: 10 })]), 11)
    answer(json(sop('s-1', { status: 'running', name: '改名了', progress: progress('s-1', [account(ACC_1, '门店一号', { sent: 3, pending: 7, total: 10 })]) })))
    await opening
    expect(store.current!.name).toBe('改名了')
    expect(store.current!.progress!.totals.sent).toBe(8)
    expect(store.items[0].progress!.totals.sent).toBe(8)
  })

  it('re-reads the open SOP when an event changes its status, and only then', async () => {
    const store = seeded()
    store.currentId = 's-1'
    store.current = store.items[0]
    const { calls } = mockFetch(() => json(sop('s-1', { status: 'completed', status_reason: '全部发送完成', finished_at: '2026-11-21T03:00:00Z' })))
    const off = store.connectRealtime()
    const rt = useRealtimeStore()
    rt._dispatch('sop.progress', envelope('sop.progress', progress('s-1', [account(ACC_1, '门店一号', { sent: 5, pending: 5, total: 10 })]), 30))
    await new Promise((r) => setTimeout(r, 20))
    expect(calls).toHaveLength(0)
    rt._dispatch('sop.progress', envelope('sop.progress', progress('s-1', [account(ACC_1, '门店一号', { sent: 10, total: 10 })], 'completed'), 31))
    await waitFor(() => store.current?.status_reason === '全部发送完成')
    expect(calls.map((c) => c.url)).toEqual(['/api/sops/s-1'])
    off()
  })

  it('reloads the list and the open SOP when the live connection comes back', async () => {
    const store = seeded()
    store.currentId = 's-1'
    store.current = store.items[0]
    const { calls } = mockFetch((call) => {
      const path = new URL(call.url, 'http://console').pathname
      if (path === '/api/sops') return json([sop('s-1', { status: 'paused' })])
      return json(sop('s-1', { status: 'paused' }))
    })
    const off = store.connectRealtime()
    const rt = useRealtimeStore()
    rt.status = 'disconnected'
    await Promise.resolve()
    rt.status = 'connected'
    await waitFor(() => calls.length >= 2 && store.current?.status === 'paused')
    expect(calls.map((c) => new URL(c.url, 'http://console').pathname).sort()).toEqual(['/api/sops', '/api/sops/s-1'])
    off()
  })
})
