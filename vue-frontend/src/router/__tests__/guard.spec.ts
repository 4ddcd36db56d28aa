import { beforeEach, describe, expect, it } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, type Router } from 'vue-router'
import { useAuthStore } from '@/auth/store'
import type { Role } from '@/common/types'
import { createAppRouter } from '@/router'
import { safeRedirect } from '@/router/guard'
import { makeUser, tokens } from '../../../tests/unit/helpers'

let router: Router

beforeEach(() => {
  setActivePinia(createPinia())
  router = createAppRouter(createMemoryHistory())
})

function loginAs(role: Role) {
  useAuthStore().setSession(tokens(1, makeUser(role)))
}

describe('route guard', () => {
  it('sends a logged-out visitor to /login with the wanted page as redirect', async () => {
    await router.push('/users?page=2')
    expect(router.currentRoute.value.name).toBe('login')
    expect(router.currentRoute.value.query.redirect).toBe('/users?page=2')
  })

  it('sends a logged-out visitor of / to /login', async () => {
    await router.push('/')
    expect(router.currentRoute.value.name).toBe('login')
  })

  it('sends a sales user to the 403 page for the admin-only users page', async () => {
    loginAs('sales')
    await router.push('/users')
    expect(router.currentRoute.value.name).toBe('forbidden')
  })

  it('sends a finance user to the 403 page for the conversations workbench', async () => {
    loginAs('finance')
    await router.push('/conversations')
    expect(router.currentRoute.value.name).toBe('forbidden')
  })

  it('lets a finance user open the cost page', async () => {
    loginAs('finance')
    await router.push('/cost')
    expect(router.currentRoute.value.name).toBe('cost')
  })

  it('lets an admin open the users page', async () => {
    loginAs('admin')
    await router.push('/users')
    expect(router.currentRoute.value.name).toBe('users')
  })

  it('sends a logged-in user away from /login to the redirect target', async () => {
    loginAs('manager')
    await router.push('/login?redirect=/devices')
    expect(router.currentRoute.value.fullPath).toBe('/devices')
  })

  it('refuses off-site redirect targets', () => {
    expect(safeRedirect('//evil.example.com/x')).toBe('/')
    expect(safeRedirect('https://evil.example.com')).toBe('/')
    expect(safeRedirect('/sop')).toBe('/sop')
  })
})
