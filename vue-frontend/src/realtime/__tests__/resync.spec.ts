import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { useAuthStore } from '@/auth/store'
import { useConversationsStore } from '@/conversations/store'
import { REPLAY_MAX_PAGES, REPLAY_PAGE_SIZE, useRealtimeStore } from '@/realtime/store'
import { RESYNC_EVENT, type EventPage, type RealtimeEvent, type ResyncData } from '@/realtime/types'
import { useSopStore } from '@/sop/store'
import { apiError, flush, json, makeUser, mockFetch, tokens, waitFor, type Call } from '../../../tests/unit/helpers'
import { FakeSocket, useFakeSockets } from './fakeSocket'

let sockets: FakeSocket[]

beforeEach(() => {
  setActivePinia(createPinia())
  sockets = useFakeSockets()
  useAuthStore().setSession(tokens(1, makeUser('manager')))
})

function ev(seq: number, type = 'message.new'): RealtimeEvent {
  return { seq, type, at: '2026-11-21T09:00:00Z', data: { n: seq } }
}

function page(seqs: number[], hasMore = false, since = 0): EventPage {
  const items = seqs.map((s) => ev(s))
  return { items, last_seq: items.length ? items[items.length - 1].seq : since, has_more: hasMore }
}

function isEvents(call: Call): boolean {
  return new URL(call.url, 'http://console').pathname === '/api/events'
}

function sinceOf(call: Call): number {
  return Number(new URL(call.url, 'http://console').searchParams.get('since'))
}

/** A connected console that has seen `seq` (hello) and records what its handlers get. */
function connected(seq: number) {
  const rt = useRealtimeStore()
  const got: number[] = []
  const resyncs: ResyncData[] = []
  rt.subscribe('message.new', (e) => got.push(e.seq))
  rt.subscribe<ResyncData>(RESYNC_EVENT, (e) => resyncs.push(e.data))
  rt.connect()
  const socket = sockets[0]
  socket.serverAccepts()
  socket.serverEmits('hello', { user_id: 'u', organization_id: 'o', seq })
  return { rt, socket, got, resyncs }
}

/** The connection drops and comes back; the server says its seq is now `serverSeq` (hello before connect). */
function reconnect(socket: FakeSocket, serverSeq: number) {
  socket.serverDrops()
  socket.serverEmits('hello', { user_id: 'u', organization_id: 'o', seq: serverSeq })
  socket.serverAccepts()
}

describe('realtime store: resync after a reconnect', () => {
  it('does not replay on the first connect', async () => {
    const { calls } = mockFetch(() => json(page([])))
    const { rt } = connected(41)
    await flush()
    expect(calls).toHaveLength(0)
    expect(rt.lastSeq).toBe(41)
  })

  it('replays the missed events through the same handlers in seq order', async () => {
    const { calls } = mockFetch(() => json({ items: [ev(14), ev(12), ev(13)], last_seq: 14, has_more: false }))
    const { rt, socket, got } = connected(10)
    socket.serverEmits('message.new', ev(11))
    expect(got).toEqual([11])

    reconnect(socket, 14)
    expect(rt.lastSeq).toBe(11) // the new hello does not skip the gap
    await waitFor(() => !rt.replaying)

    expect(calls.filter(isEvents).map((c) => c.url)).toEqual([`/api/events?since=11&limit=${REPLAY_PAGE_SIZE}`])
    expect(got).toEqual([11, 12, 13, 14])
    expect(rt.lastSeq).toBe(14)
  })

  it('also replays when connect comes before hello', async () => {
    mockFetch(() => json(page([6, 7])))
    const { rt, socket, got } = connected(5)
    socket.serverDrops()
    socket.serverAccepts()
    socket.serverEmits('hello', { user_id: 'u', organization_id: 'o', seq: 7 })
    await waitFor(() => !rt.replaying)
    expect(got).toEqual([6, 7])
    expect(rt.lastSeq).toBe(7)
  })

  it('delivers an event that arrives both live and replayed once, live ones after the replay, in order', async () => {
    let answer: (r: Response) => void = () => undefined
    mockFetch(() => new Promise<Response>((resolve) => (answer = resolve)))
    const { rt, socket, got } = connected(10)

    reconnect(socket, 12)
    expect(rt.replaying).toBe(true)
    // Live events while the replay is on its way: held back, not delivered ahead of older ones.
    socket.serverEmits('message.new', ev(13))
    socket.serverEmits('message.new', ev(12))
    expect(got).toEqual([])

    answer(json(page([11, 12, 13])))
    await waitFor(() => !rt.replaying)
    expect(got).toEqual([11, 12, 13])

    // A late live copy of a replayed event is dropped too; new ones go through.
    socket.serverEmits('message.new', ev(12))
    socket.serverEmits('message.new', ev(14))
    expect(got).toEqual([11, 12, 13, 14])
    expect(rt.lastSeq).toBe(14)
  })

  it('pages until caught up', async () => {
    const { calls } = mockFetch((call) => {
      const since = sinceOf(call)
      if (since === 3) return json(page([4, 5, 6], true))
      if (since === 6) return json(page([7, 8, 9], true))
      return json(page([10], false))
    })
    const { rt, socket, got } = connected(3)
    reconnect(socket, 10)
    await waitFor(() => !rt.replaying)
    expect(calls.filter(isEvents).map(sinceOf)).toEqual([3, 6, 9])
    expect(got).toEqual([4, 5, 6, 7, 8, 9, 10])
    expect(rt.lastSeq).toBe(10)
  })

  it('replays from where it stopped when the connection drops again mid-replay', async () => {
    const answers: Array<(r: Response) => void> = []
    const { calls } = mockFetch(() => new Promise<Response>((resolve) => answers.push(resolve)))
    const { rt, socket, got } = connected(3)
    reconnect(socket, 8)
    answers[0](json(page([4, 5], true)))
    await waitFor(() => calls.length === 2)
    socket.serverDrops() // the second page is still on its way
    answers[1](json(page([6, 7, 8])))
    await flush()
    expect(got).toEqual([4, 5])

    reconnect(socket, 8)
    await waitFor(() => calls.length === 3)
    expect(sinceOf(calls[2])).toBe(5)
    answers[2](json(page([6, 7, 8])))
    await waitFor(() => !rt.replaying)
    expect(got).toEqual([4, 5, 6, 7, 8])
  })

  describe('falls back to a local resync event', () => {
    it('when the organisation sequence restarted (hello below what was seen)', async () => {
      const { calls } = mockFetch(() => json(page([])))
      const { rt, socket, got, resyncs } = connected(10)
      socket.serverEmits('message.new', ev(11))
      reconnect(socket, 2)
      await waitFor(() => resyncs.length === 1)
      expect(calls.filter(isEvents)).toHaveLength(0)
      expect(resyncs).toEqual([{ reason: 'sequence_restarted', since: 11 }])
      expect(rt.lastSeq).toBe(2)
      // New numbering: seq 3 is new even if an old 3 was seen once.
      socket.serverEmits('message.new', ev(3))
      expect(got).toEqual([11, 3])
    })

    it('when the restart shows only in a hello that comes after the replay', async () => {
      mockFetch(() => json(page([], false, 10)))
      const { rt, socket, resyncs } = connected(10)
      socket.serverDrops()
      socket.serverAccepts() // no hello yet: the replay runs and finds nothing after 10
      await waitFor(() => !rt.replaying)
      expect(resyncs).toEqual([])
      socket.serverEmits('hello', { user_id: 'u', organization_id: 'o', seq: 4 })
      expect(resyncs).toEqual([{ reason: 'sequence_restarted', since: 10 }])
      expect(rt.lastSeq).toBe(4)
    })

    it('when the server no longer has the missed events (a hole in the seqs)', async () => {
      mockFetch(() => json(page([40, 41])))
      const { rt, socket, got, resyncs } = connected(10)
      reconnect(socket, 41)
      await waitFor(() => !rt.replaying)
      expect(resyncs).toEqual([{ reason: 'events_missing', since: 10 }])
      expect(got).toEqual([40, 41])
      expect(rt.lastSeq).toBe(41)
    })

    it('when the replay ends short of the seq the server announced', async () => {
      mockFetch(() => json(page([11])))
      const { rt, socket, resyncs } = connected(10)
      reconnect(socket, 15)
      await waitFor(() => !rt.replaying)
      expect(resyncs).toEqual([{ reason: 'events_missing', since: 10 }])
      expect(rt.lastSeq).toBe(15)
    })

    it('when the gap is too long to replay', async () => {
      const { calls } = mockFetch(() => json(page([])))
      const { rt, socket, resyncs } = connected(10)
      reconnect(socket, 10 + REPLAY_PAGE_SIZE * REPLAY_MAX_PAGES + 1)
      await waitFor(() => resyncs.length === 1)
      expect(calls.filter(isEvents)).toHaveLength(0)
      expect(resyncs[0].reason).toBe('too_far_behind')
      expect(rt.lastSeq).toBe(10 + REPLAY_PAGE_SIZE * REPLAY_MAX_PAGES + 1)
    })

    it('when the replay request fails, then delivers the live events held meanwhile', async () => {
      vi.spyOn(console, 'warn').mockImplementation(() => undefined)
      let answer: (r: Response) => void = () => undefined
      mockFetch(() => new Promise<Response>((resolve) => (answer = resolve)))
      const { rt, socket, got, resyncs } = connected(10)
      reconnect(socket, 12)
      socket.serverEmits('message.new', ev(13))
      answer(apiError(503, 'service_unavailable', 'down'))
      await waitFor(() => !rt.replaying)
      expect(resyncs).toEqual([{ reason: 'replay_failed', since: 10 }])
      expect(got).toEqual([13])
      expect(rt.lastSeq).toBe(13)
    })
  })

  it('forgets the position on logout (a new login starts from its own hello)', async () => {
    const { calls } = mockFetch(() => json(page([])))
    const { rt } = connected(10)
    useAuthStore().clear()
    await flush()
    expect(rt.lastSeq).toBeNull()
    useAuthStore().setSession(tokens(2, makeUser('manager')))
    rt.connect()
    sockets[1].serverAccepts()
    sockets[1].serverEmits('hello', { user_id: 'u', organization_id: 'o', seq: 3 })
    await flush()
    expect(calls.filter(isEvents)).toHaveLength(0)
    expect(rt.lastSeq).toBe(3)
  })
})

describe('feature stores reload on resync', () => {
  const path = (c: Call) => new URL(c.url, 'http://console').pathname

  it('the workbench reloads its list and the open conversation', async () => {
    const { calls } = mockFetch((call) => {
      if (path(call) === '/api/conversations') return json({ items: [], has_more: false })
      if (path(call).endsWith('/messages')) return json({ items: [], has_more: false })
      return apiError(404, 'not_found', 'gone')
    })
    const store = useConversationsStore()
    store.currentId = 'c-1'
    const off = store.connectRealtime()
    useRealtimeStore()._dispatch(RESYNC_EVENT, { seq: 0, type: RESYNC_EVENT, at: '', data: { reason: 'events_missing', since: 1 } })
    await waitFor(() => calls.length >= 3)
    expect(calls.map(path).sort()).toEqual(['/api/conversations', '/api/conversations/c-1', '/api/conversations/c-1/messages'])
    off()
  })

  it('the SOP page reloads its list', async () => {
    const { calls } = mockFetch(() => json([]))
    const store = useSopStore()
    const off = store.connectRealtime()
    useRealtimeStore()._dispatch(RESYNC_EVENT, { seq: 0, type: RESYNC_EVENT, at: '', data: { reason: 'events_missing', since: 1 } })
    await waitFor(() => calls.length >= 1)
    expect(calls.map(path)).toContain('/api/sops')
    off()
    const before = calls.length
    useRealtimeStore()._dispatch(RESYNC_EVENT, { seq: 0, type: RESYNC_EVENT, at: '', data: { reason: 'events_missing', since: 1 } })
    await flush()
    expect(calls.length).toBe(before)
  })
})
