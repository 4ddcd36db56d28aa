/** Shapes shared with the backend (see shared/DESIGN.md section 5). */

export type Role = 'admin' | 'manager' | 'sales' | 'finance'

export const ROLES: readonly Role[] = ['admin', 'manager', 'sales', 'finance'] as const

export interface Organization {
  id: number | string
  name: string
}

export interface User {
  id: number | string
  username: string
  display_name: string | null
  role: Role
  is_active: boolean
  organization: Organization
  created_at: string
}

/** Body of POST /api/auth/login and POST /api/auth/refresh. */
export interface TokenResponse {
  access_token: string
  refresh_token: string
  token_type: 'bearer'
  /** Lifetime of the access token in seconds. */
  expires_in: number
  user: User
}

/** Every error the backend sends: `{"error": {"code", "message"}}`. */
export interface ApiErrorBody {
  error: { code: string; message: string }
}

export interface Paged<T> {
  items: T[]
  total: number
}

export interface ReadyCheck {
  ok: boolean
  detail?: string | null
}

export interface ReadyResponse {
  ok: boolean
  checks: Record<string, ReadyCheck>
}
