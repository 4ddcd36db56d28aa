import { http } from '@/common/http'
import type { TokenResponse, User } from '@/common/types'

/** Login, refresh and logout never go through the 401 -> refresh path (auth: false). */
export const authApi = {
  login: (username: string, password: string) =>
    http.post<TokenResponse>('/api/auth/login', { username, password }, { auth: false }),
  refresh: (refreshToken: string) =>
    http.post<TokenResponse>('/api/auth/refresh', { refresh_token: refreshToken }, { auth: false }),
  logout: (refreshToken: string) =>
    http.post<void>('/api/auth/logout', { refresh_token: refreshToken }, { auth: false }),
  me: () => http.get<User>('/api/auth/me'),
}
