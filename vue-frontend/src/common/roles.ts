import type { Role } from './types'

/** i18n key of a role's label (管理员 / 经理 / 销售 / 财务). */
export function roleLabelKey(role: Role | string | null | undefined): string {
  return role ? `roles.${role}` : 'common.unknownError'
}

/** True when `roles` is empty/undefined (open to every logged-in user) or contains `role`. */
export function roleAllowed(roles: readonly Role[] | undefined, role: Role | null | undefined): boolean {
  if (!roles || roles.length === 0) return true
  return !!role && roles.includes(role)
}
