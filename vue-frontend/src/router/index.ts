import { createRouter, createWebHistory, type Router, type RouterHistory } from 'vue-router'
import { useAuthStore } from '@/auth/store'
import { authGuard } from './guard'
import { routes } from './routes'

export function createAppRouter(history: RouterHistory = createWebHistory(import.meta.env.BASE_URL)): Router {
  const router = createRouter({ history, routes })
  router.beforeEach((to) => authGuard(to, useAuthStore()))
  return router
}
