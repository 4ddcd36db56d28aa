import { defineStore } from 'pinia'
import { ref, watch } from 'vue'
import type { Socket } from 'socket.io-client'
import { useAuthStore } from '@/auth/store'
import { http } from '@/common/http'
import { createSocket } from './socket'
import {
  RESYNC_EVENT,
  type ConnectionStatus,
  type EventPage,
  type HelloPayload,
  type RealtimeEvent,
  type ResyncData,
  type ResyncReason,
} from './types'

type Handler = (event: RealtimeEvent) => void

/** Events asked per GET /api/events page (the server allows 1..1000). */
export const REPLAY_PAGE_SIZE = 500
/** Pages replayed after a reconnect before giving up and asking the features to reload instead. */
export const REPLAY_MAX_PAGES = 20
/** How many recent seqs are remembered to drop an event arriving both live and through the replay. */
const SEEN_MAX = 5000

/**
 * The console's one Socket.IO connection.
 *
 * - `status`: connecting | connected | disconnected | unauthorized
 * - `lastSeq`: highest per-organisation `seq` delivered (from the first `hello`, then from every event).
 * - `subscribe(type, handler)`: features listen to one event type; returns an unsubscribe function.
 * - A `connect_error` whose message is "unauthorized" refreshes the token and reconnects once.
 * - Resync after a reconnect (not the first connect): the events missed since `lastSeq` are fetched from
 *   GET /api/events?since=N page by page and handed to the same handlers in seq order; live events that
 *   arrive meanwhile wait and follow, and an event arriving both live and replayed is delivered once
 *   (by seq). When the gap cannot be replayed (the organisation's sequence restarted, events are
 *   missing, the gap is too long or the replay fails) a local `resync` event tells the feature stores
 *   to reload their lists instead.
 */
export const useRealtimeStore = defineStore('realtime', () => {
  const auth = useAuthStore()

  const status = ref<ConnectionStatus>('disconnected')
  const lastSeq = ref<number | null>(null)
  const hello = ref<HelloPayload | null>(null)
  const lastError = ref<string | null>(null)
  /** True while missed events are being fetched after a reconnect. */
  const replaying = ref(false)

  const handlers = new Map<string, Set<Handler>>()
  let socket: Socket | null = null
  let authRetried = false
  let refreshingForSocket = false

  // Replay state: whether a connection was ever up (so the next one is a reconnect), whether the
  // current connection still has to replay, the seq the server announced in its last `hello`, the
  // live events held back while replaying, the seqs already delivered, and a generation that
  // cancels a replay overtaken by a disconnect or a logout.
  let hadConnection = false
  let reconnected = false
  let replayNeeded = false
  let serverSeq: number | null = null
  let seqAtDisconnect: number | null = null
  let held: Array<{ type: string; payload: unknown }> = []
  const seen = new Set<number>()
  let replayGen = 0

  function noteSeq(seq: unknown): void {
    if (typeof seq === 'number' && Number.isFinite(seq) && (lastSeq.value === null || seq > lastSeq.value)) {
      lastSeq.value = seq
    }
  }

  function dispatch(type: string, payload: unknown): void {
    const event = payload as RealtimeEvent
    if (event && typeof event === 'object') noteSeq(event.seq)
    const set = handlers.get(type)
    if (!set) return
    for (const h of [...set]) {
      try {
        h(event)
      } catch (err) {
        console.error(`[realtime] handler for ${type} failed`, err)
      }
    }
    for (const h of [...(handlers.get('*') ?? [])]) h(event)
  }

  function seqOf(payload: unknown): number | null {
    const seq = payload && typeof payload === 'object' ? (payload as { seq?: unknown }).seq : undefined
    return typeof seq === 'number' && Number.isFinite(seq) ? seq : null
  }

  /** Deliver an event from the server once: a seq delivered before (live or replayed) is dropped. */
  function deliver(type: string, payload: unknown): void {
    const seq = seqOf(payload)
    if (seq !== null) {
      if (seen.has(seq)) return
      seen.add(seq)
      if (seen.size > SEEN_MAX) {
        let drop = seen.size - SEEN_MAX + 500
        for (const old of seen) {
          if (drop-- <= 0) break
          seen.delete(old)
        }
      }
    }
    dispatch(type, payload)
  }

  /** A live event: delivered now, or held back until the replay of what was missed is done. */
  function receive(type: string, payload: unknown): void {
    if (replayNeeded || replaying.value) held.push({ type, payload })
    else deliver(type, payload)
  }

  /** Deliver the held-back live events in seq order (duplicates of replayed events are dropped). */
  function releaseHeld(): void {
    const events = held
    held = []
    const order = events.map((e, i) => ({ ...e, i, seq: seqOf(e.payload) }))
    order.sort((a, b) => (a.seq ?? Number.MAX_SAFE_INTEGER) - (b.seq ?? Number.MAX_SAFE_INTEGER) || a.i - b.i)
    for (const e of order) deliver(e.type, e.payload)
  }

  function beginReplay(): void {
    if (!replayNeeded) return
    replayNeeded = false
    replaying.value = true
    void replay(++replayGen)
  }

  /** Fetch and deliver what was missed since `lastSeq`, page by page; a local `resync` when that is impossible. */
  async function replay(gen: number): Promise<void> {
    const since0 = lastSeq.value
    let reason: ResyncReason | null = null
    try {
      if (since0 === null) reason = 'unknown_position'
      else if (serverSeq !== null && serverSeq < since0) reason = 'sequence_restarted'
      else if (serverSeq !== null && serverSeq - since0 > REPLAY_PAGE_SIZE * REPLAY_MAX_PAGES) reason = 'too_far_behind'
      else {
        let since = since0
        for (let page = 0; ; page++) {
          if (page >= REPLAY_MAX_PAGES) {
            reason = 'too_far_behind'
            break
          }
          const res = await http.get<EventPage>('/api/events', { query: { since, limit: REPLAY_PAGE_SIZE } })
          if (gen !== replayGen) return
          // `hello` may come after the connect: a sequence that went backwards is a restart.
          if (serverSeq !== null && serverSeq < since0) {
            reason = 'sequence_restarted'
            break
          }
          const items = [...(res.items ?? [])].sort((a, b) => a.seq - b.seq)
          for (const item of items) {
            // The organisation's seqs have no holes: one means events are gone from the server.
            if (item.seq > since + 1) reason = 'events_missing'
            if (item.seq > since) since = item.seq
            deliver(item.type, item)
          }
          if (reason) break
          if (typeof res.last_seq === 'number' && res.last_seq > since) since = res.last_seq
          if (!res.has_more || !items.length) break
        }
        // Everything up to the seq announced at connect time is stored: falling short means it is not.
        if (!reason && serverSeq !== null && since < serverSeq) reason = 'events_missing'
      }
    } catch (err) {
      if (gen !== replayGen) return
      console.warn('[realtime] replay of missed events failed; reloading instead', err)
      reason = 'replay_failed'
    }
    if (gen !== replayGen) return
    replaying.value = false
    if (reason) resync(reason, since0)
    releaseHeld()
  }

  /** Give up replaying: continue from the server's seq and tell the features to reload. */
  function resync(reason: ResyncReason, since: number | null): void {
    if (reason === 'sequence_restarted') {
      // New numbering: seqs seen before mean nothing any more.
      seen.clear()
      lastSeq.value = serverSeq
    } else {
      noteSeq(serverSeq)
    }
    const data: ResyncData = { reason, since }
    dispatch(RESYNC_EVENT, { seq: lastSeq.value ?? 0, type: RESYNC_EVENT, at: new Date().toISOString(), data })
  }

  /** Forget the connection's history (logout, or a new session). */
  function resetReplay(): void {
    replayGen++
    hadConnection = false
    reconnected = false
    replayNeeded = false
    replaying.value = false
    serverSeq = null
    seqAtDisconnect = null
    held = []
    seen.clear()
    lastSeq.value = null
  }

  async function onConnectError(err: Error): Promise<void> {
    lastError.value = err?.message ?? 'error'
    if (err?.message !== 'unauthorized') {
      status.value = 'disconnected'
      return
    }
    status.value = 'unauthorized'
    if (authRetried) return
    authRetried = true
    refreshingForSocket = true
    let ok = false
    try {
      ok = await auth.refresh()
    } finally {
      refreshingForSocket = false
    }
    if (ok && socket && !socket.connected && status.value === 'unauthorized') {
      status.value = 'connecting'
      socket.connect()
    }
  }

  function connect(): void {
    if (!auth.isLoggedIn) return
    if (socket) {
      if (!socket.connected) {
        status.value = 'connecting'
        socket.connect()
      }
      return
    }
    socket = createSocket(() => auth.accessToken)
    socket.on('connect', () => {
      status.value = 'connected'
      authRetried = false
      lastError.value = null
      hadConnection = true
      beginReplay()
    })
    socket.on('disconnect', () => {
      status.value = socket?.active ? 'connecting' : 'disconnected'
      // Whatever happens until the next connect is missed: replay it then (an unfinished replay restarts
      // from what it delivered so far; held-back live events are fetched again).
      replayGen++
      replaying.value = false
      held = []
      serverSeq = null
      seqAtDisconnect = lastSeq.value
      reconnected = hadConnection
      replayNeeded = hadConnection
    })
    socket.on('connect_error', (err: Error) => void onConnectError(err))
    // Socket.IO may hand out `hello` just before or just after `connect`.
    socket.on('hello', (payload: HelloPayload) => {
      hello.value = payload
      const seq = seqOf(payload)
      serverSeq = seq
      hadConnection = true
      if (!reconnected) noteSeq(seq) // the first connection starts from the server's seq
      else if (replayNeeded) beginReplay() // before `connect`: replay knowing the server's seq
      else if (!replaying.value && seq !== null) {
        // After a replay that is already over: a position is still unknown, or the sequence restarted.
        if (lastSeq.value === null) noteSeq(seq)
        else if (seqAtDisconnect !== null && seq < seqAtDisconnect) resync('sequence_restarted', seqAtDisconnect)
      }
    })
    socket.onAny((event: string, payload: unknown) => {
      if (event !== 'hello') receive(event, payload)
    })
    socket.io.on('reconnect_attempt', () => {
      if (status.value !== 'unauthorized') status.value = 'connecting'
    })
    status.value = 'connecting'
    socket.connect()
  }

  function disconnect(): void {
    if (socket) {
      socket.removeAllListeners()
      socket.io.removeAllListeners()
      socket.disconnect()
      socket = null
    }
    authRetried = false
    resetReplay()
    status.value = 'disconnected'
  }

  /** Listen to one event type (or '*' for all); returns the unsubscribe function. */
  function subscribe<D = unknown>(type: string, handler: (event: RealtimeEvent<D>) => void): () => void {
    let set = handlers.get(type)
    if (!set) handlers.set(type, (set = new Set()))
    set.add(handler as Handler)
    return () => {
      set!.delete(handler as Handler)
    }
  }

  // Logged out -> drop the connection. New token while not connected -> reconnect with it
  // (the auth callback in createSocket always sends the newest token).
  watch(
    () => auth.accessToken,
    (token, previous) => {
      if (!token) {
        disconnect()
        return
      }
      if (refreshingForSocket) return
      if (token !== previous && socket && !socket.connected && status.value !== 'connecting') {
        status.value = 'connecting'
        socket.connect()
      }
    },
  )

  return { status, lastSeq, hello, lastError, replaying, connect, disconnect, subscribe, _dispatch: dispatch }
})
