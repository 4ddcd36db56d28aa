import { defineStore } from 'pinia'
import { ref, watch } from 'vue'
import type { Socket } from 'socket.io-client'
import { useAuthStore } from '@/auth/store'
import { createSocket } from './socket'
import type { ConnectionStatus, HelloPayload, RealtimeEvent } from './types'

type Handler = (event: RealtimeEvent) => void

/**
 * The console's one Socket.IO connection.
 *
 * - `status`: connecting | connected | disconnected | unauthorized
 * - `lastSeq`: highest per-organisation `seq` seen (from `hello` and from every event), for a later
 *   resync through GET /api/events?since=N.
 * - `subscribe(type, handler)`: features listen to one event type; returns an unsubscribe function.
 * - A `connect_error` whose message is "unauthorized" refreshes the token and reconnects once.
 */
export const useRealtimeStore = defineStore('realtime', () => {
  const auth = useAuthStore()

  const status = ref<ConnectionStatus>('disconnected')
  const lastSeq = ref<number | null>(null)
  const hello = ref<HelloPayload | null>(null)
  const lastError = ref<string | null>(null)

  const handlers = new Map<string, Set<Handler>>()
  let socket: Socket | null = null
  let authRetried = false
  let refreshingForSocket = false

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
    })
    socket.on('disconnect', () => {
      status.value = socket?.active ? 'connecting' : 'disconnected'
    })
    socket.on('connect_error', (err: Error) => void onConnectError(err))
    socket.on('hello', (payload: HelloPayload) => {
      hello.value = payload
      noteSeq(payload?.seq)
    })
    socket.onAny((event: string, payload: unknown) => {
      if (event !== 'hello') dispatch(event, payload)
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

  return { status, lastSeq, hello, lastError, connect, disconnect, subscribe, _dispatch: dispatch }
})
