import { http } from '@/common/http'
import type { Paged, Role, User } from '@/common/types'

export interface CreateUserBody {
  username: string
  password: string
  role: Role
  display_name?: string
}

export interface UpdateUserBody {
  display_name?: string
  role?: Role
  is_active?: boolean
}

export const usersApi = {
  list: () => http.get<Paged<User>>('/api/users'),
  create: (body: CreateUserBody) => http.post<User>('/api/users', body),
  update: (id: User['id'], body: UpdateUserBody) => http.patch<User>(`/api/users/${encodeURIComponent(String(id))}`, body),
}
