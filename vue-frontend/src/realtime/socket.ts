import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client'

export type SocketFactory = (opts: Partial<ManagerOptions & SocketOptions>) => Socket

/** Same-origin Socket.IO connection; replaced in unit tests. */
let factory: SocketFactory = (opts) => io(opts)

export function setSocketFactory(f: SocketFactory | null): void {
  factory = f ?? ((opts) => io(opts))
}

export function createSocket(getToken: () => string | null): Socket {
  return factory({
    path: '/socket.io',
    // A function so that every (re)connection sends the newest access token: `{token}`.
    auth: (cb: (data: object) => void) => cb({ token: getToken() }),
    transports: ['websocket', 'polling'],
    autoConnect: false,
  })
}
