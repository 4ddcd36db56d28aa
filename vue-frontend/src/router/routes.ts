import type { RouteRecordRaw } from 'vue-router'
import type { Role } from '@/common/types'

declare module 'vue-router' {
  interface RouteMeta {
    /** Reachable without logging in. */
    public?: boolean
    /** Roles allowed; absent = every logged-in user. */
    roles?: Role[]
    /** i18n key of the page title / menu label. */
    titleKey?: string
    /** Shown in the sidebar (and as a dashboard shortcut) with this Element Plus icon name. */
    nav?: { icon: string; order: number }
  }
}

/** Pages inside the app shell. `name` doubles as the `nav-<name>` data-test id. */
export const shellRoutes: RouteRecordRaw[] = [
  {
    path: '',
    name: 'dashboard',
    component: () => import('@/dashboard/DashboardPage.vue'),
    meta: { titleKey: 'nav.dashboard', nav: { icon: 'HomeFilled', order: 0 } },
  },
  {
    path: 'conversations',
    name: 'conversations',
    component: () => import('@/conversations/ConversationsPage.vue'),
    meta: {
      titleKey: 'nav.conversations',
      roles: ['sales', 'manager', 'admin'],
      nav: { icon: 'ChatDotRound', order: 10 },
    },
  },
  {
    path: 'devices',
    name: 'devices',
    component: () => import('@/devices/DevicesPage.vue'),
    meta: { titleKey: 'nav.devices', roles: ['manager', 'admin'], nav: { icon: 'Iphone', order: 20 } },
  },
  {
    path: 'sop',
    name: 'sop',
    component: () => import('@/sop/SopPage.vue'),
    meta: { titleKey: 'nav.sop', roles: ['manager', 'admin'], nav: { icon: 'Promotion', order: 30 } },
  },
  {
    path: 'agent',
    name: 'agent',
    component: () => import('@/agent/AgentPage.vue'),
    meta: { titleKey: 'nav.agent', roles: ['manager', 'admin'], nav: { icon: 'MagicStick', order: 40 } },
  },
  {
    path: 'cost',
    name: 'cost',
    component: () => import('@/cost/CostPage.vue'),
    meta: { titleKey: 'nav.cost', roles: ['finance', 'admin'], nav: { icon: 'Coin', order: 50 } },
  },
  {
    path: 'users',
    name: 'users',
    component: () => import('@/users/UsersPage.vue'),
    meta: { titleKey: 'nav.users', roles: ['admin'], nav: { icon: 'User', order: 60 } },
  },
  {
    path: 'audit',
    name: 'audit',
    component: () => import('@/audit/AuditPage.vue'),
    meta: { titleKey: 'nav.audit', roles: ['admin'], nav: { icon: 'Tickets', order: 70 } },
  },
  {
    path: '403',
    name: 'forbidden',
    component: () => import('@/common/ForbiddenPage.vue'),
    meta: { titleKey: 'errors.forbiddenTitle' },
  },
]

export const routes: RouteRecordRaw[] = [
  {
    path: '/login',
    name: 'login',
    component: () => import('@/auth/LoginPage.vue'),
    meta: { public: true, titleKey: 'auth.title' },
  },
  {
    path: '/',
    component: () => import('@/layout/AppLayout.vue'),
    children: shellRoutes,
  },
  {
    path: '/:pathMatch(.*)*',
    name: 'not-found',
    component: () => import('@/common/NotFoundPage.vue'),
    meta: { public: true, titleKey: 'errors.notFoundTitle' },
  },
]

/** Sidebar / shortcut entries the given role may open, in menu order. */
export function navEntries(hasRole: (roles: Role[] | undefined) => boolean) {
  return shellRoutes
    .filter((r) => r.meta?.nav && hasRole(r.meta.roles))
    .sort((a, b) => (a.meta!.nav!.order ?? 0) - (b.meta!.nav!.order ?? 0))
    .map((r) => ({
      name: String(r.name),
      path: r.path ? `/${r.path}` : '/',
      titleKey: r.meta!.titleKey!,
      icon: r.meta!.nav!.icon,
    }))
}
