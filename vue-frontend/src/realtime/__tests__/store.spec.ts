import { beforeEach, describe, expect, it } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { useAuthStore } from '@/auth/store'
import { useRealtimeStore } from '@/realtime/store'
import { flush, json, mockFetch, tokens } from '../../../tests/unit/helpers'
import { FakeSocket, useFakeSockets } from './fakeSocket'

let sockets: FakeSocket[]

beforeEach(() => {
  setActivePinia(createPinia())
  sockets = useFakeSockets()
  useAuthStore().setSession(tokens(1))
})

describe('realtime store', () => {
  it('connects to /socket.io with the access token and websocket first', () => {
    const rt = useRealtimeStore()
    rt.connect()
    expect(rt.status).toBe('connecting')
    expect(sockets[0].opts).toMatchObject({ path: '/socket.io', transports: ['websocket', 'polling'] })
    expect(sockets[0].handshakes).toEqual([{ token: 'access-1' }])
    sockets[0].serverAccepts()
    expect(rt.status).toBe('connected')
  })

  it('records the seq from hello and from later events', () => {
    const rt = useRealtimeStore()
    rt.connect()
    sockets[0].serverAccepts()
    sockets[0].serverEmits('hello', { user_id: 1, organization_id: 1, seq: 41 })
    expect(rt.lastSeq).toBe(41)
    sockets[0].serverEmits('message.new', { seq: 42, type: 'message.new', at: '2025-01-01T00:00:00Z', data: {} })
    expect(rt.lastSeq).toBe(42)
  })

  it('delivers events only to subscribers of that type, until they unsubscribe', () => {
    const rt = useRealtimeStore()
    rt.connect()
    const got: unknown[] = []
    const off = rt.subscribe('device.status', (e) => got.push(e.data))
    sockets[0].serverEmits('device.status', { seq: 1, type: 'device.status', at: '', data: { online: true } })
    sockets[0].serverEmits('cost.alert', { seq: 2, type: 'cost.alert', at: '', data: { over: true } })
    off()
    sockets[0].serverEmits('device.status', { seq: 3, type: 'device.status', at: '', data: { online: false } })
    expect(got).toEqual([{ online: true }])
  })

  it('on an "unauthorized" connect error refreshes the token and reconnects once with the new one', async () => {
    const { calls } = mockFetch(() => json(tokens(2)))
    const rt = useRealtimeStore()
    rt.connect()

    sockets[0].serverRefuses('unauthorized')
    expect(rt.status).toBe('unauthorized')
    await flush()

    expect(calls.filter((c) => c.url === '/api/auth/refresh')).toHaveLength(1)
    expect(sockets[0].connectCalls).toBe(2)
    expect(sockets[0].handshakes.at(-1)).toEqual({ token: 'access-2' })

    // refused again: no second refresh, status stays unauthorized
    sockets[0].serverRefuses('unauthorized')
    await flush()
    expect(calls.filter((c) => c.url === '/api/auth/refresh')).toHaveLength(1)
    expect(rt.status).toBe('unauthorized')
  })

  it('disconnects when the user logs out', async () => {
    const rt = useRealtimeStore()
    rt.connect()
    sockets[0].serverAccepts()
    useAuthStore().clear()
    await flush()
    expect(rt.status).toBe('disconnected')
    expect(sockets[0].connected).toBe(false)
  })
})
