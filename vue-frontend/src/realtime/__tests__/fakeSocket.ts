import type { Socket } from 'socket.io-client'
import { setSocketFactory } from '@/realtime/socket'

/** A minimal stand-in for a socket.io-client Socket, driven by the test. */
type Listener = (...args: unknown[]) => void

class Emitter {
  private listeners = new Map<string, Set<Listener>>()
  on(event: string, fn: Listener) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set())
    this.listeners.get(event)!.add(fn)
    return this
  }
  removeAllListeners() {
    this.listeners.clear()
    return this
  }
  emitLocal(event: string, ...args: unknown[]) {
    for (const fn of [...(this.listeners.get(event) ?? [])]) fn(...args)
  }
}

export class FakeSocket extends Emitter {
  connected = false
  active = false
  connectCalls = 0
  /** The auth payload sent on each connect() (the handshake). */
  handshakes: unknown[] = []
  io = new Emitter()
  private anyListeners = new Set<Listener>()

  constructor(readonly opts: Record<string, unknown>) {
    super()
  }

  connect() {
    this.connectCalls++
    this.active = true
    const auth = this.opts.auth as ((cb: (d: unknown) => void) => void) | object
    if (typeof auth === 'function') auth((d) => this.handshakes.push(d))
    else this.handshakes.push(auth)
    return this
  }
  disconnect() {
    this.connected = false
    this.active = false
    return this
  }
  onAny(fn: Listener) {
    this.anyListeners.add(fn)
    return this
  }
  override removeAllListeners() {
    super.removeAllListeners()
    this.anyListeners.clear()
    return this
  }

  // --- driven by the test, as the server would ---
  serverAccepts() {
    this.connected = true
    this.emitLocal('connect')
  }
  serverRefuses(message: string) {
    this.connected = false
    this.active = false
    this.emitLocal('connect_error', new Error(message))
  }
  /** The connection drops (socket.io-client keeps trying to reconnect: still active). */
  serverDrops(reason = 'transport close') {
    this.connected = false
    this.emitLocal('disconnect', reason)
  }
  serverEmits(event: string, payload: unknown) {
    this.emitLocal(event, payload)
    for (const fn of this.anyListeners) fn(event, payload)
  }
}

/** Make the realtime store open fake sockets for the current test; the returned list fills as it opens them. */
export function useFakeSockets(): FakeSocket[] {
  const sockets: FakeSocket[] = []
  setSocketFactory((opts) => {
    const socket = new FakeSocket(opts as Record<string, unknown>)
    sockets.push(socket)
    return socket as unknown as Socket
  })
  return sockets
}
