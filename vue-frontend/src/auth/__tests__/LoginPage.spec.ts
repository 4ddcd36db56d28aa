import { beforeEach, describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { createMemoryHistory, type Router } from 'vue-router'
import LoginPage from '@/auth/LoginPage.vue'
import { i18n } from '@/common/i18n'
import { createAppRouter } from '@/router'
import { apiError, json, makeUser, mockFetch, tokens, waitFor } from '../../../tests/unit/helpers'

let pinia: Pinia
let router: Router

beforeEach(async () => {
  pinia = createPinia()
  setActivePinia(pinia)
  router = createAppRouter(createMemoryHistory())
  await router.push('/login?redirect=/users')
})

function mountLogin() {
  return mount(LoginPage, { global: { plugins: [pinia, i18n, router] }, attachTo: document.body })
}

async function submit(wrapper: ReturnType<typeof mountLogin>, username: string, password: string) {
  await wrapper.find('input[data-test="login-username"]').setValue(username)
  await wrapper.find('input[data-test="login-password"]').setValue(password)
  await wrapper.find('form[data-test="login-form"]').trigger('submit')
  // form validation, the fetch and the lazy route chunks are all asynchronous
  await waitFor(() => wrapper.find('[data-test="login-error"]').exists() || router.currentRoute.value.name !== 'login')
}

describe('LoginPage', () => {
  it('renders the product name and the Chinese labels', () => {
    const wrapper = mountLogin()
    expect(wrapper.text()).toContain('销售助手 · WeChat Sales Assistant')
    expect(wrapper.find('[data-test="login-submit"]').text()).toBe('登录')
    expect(wrapper.text()).toContain('用户名')
    expect(wrapper.text()).toContain('密码')
    wrapper.unmount()
  })

  it('shows the backend error message under the form on a failed login', async () => {
    mockFetch(() => apiError(401, 'invalid_credentials', '用户名或密码错误'))
    const wrapper = mountLogin()

    await submit(wrapper, 'alice', 'wrong-password')

    expect(wrapper.find('[data-test="login-error"]').text()).toBe('用户名或密码错误')
    expect(router.currentRoute.value.name).toBe('login')
    wrapper.unmount()
  })

  it('shows a retry delay in minutes on 429 too_many_attempts', async () => {
    mockFetch(() => apiError(429, 'too_many_attempts', 'too many attempts', { 'Retry-After': '300' }))
    const wrapper = mountLogin()

    await submit(wrapper, 'alice', 'wrong-password')

    expect(wrapper.find('[data-test="login-error"]').text()).toBe('登录尝试次数过多，请在 5 分钟后重试')
    wrapper.unmount()
  })

  it('does not call the backend when the fields are empty', async () => {
    const { calls } = mockFetch(() => json(tokens(1)))
    const wrapper = mountLogin()

    await wrapper.find('form[data-test="login-form"]').trigger('submit')
    await waitFor(() => wrapper.text().includes('请输入用户名') && wrapper.text().includes('请输入密码'))

    expect(calls).toHaveLength(0)
    expect(wrapper.find('[data-test="login-error"]').exists()).toBe(false)
    wrapper.unmount()
  })

  it('goes to the redirect target after a successful login', async () => {
    mockFetch((call) => (call.url === '/api/auth/login' ? json(tokens(1, makeUser('admin'))) : json({})))
    const wrapper = mountLogin()

    await submit(wrapper, 'admin1', 'right-password')

    expect(router.currentRoute.value.fullPath).toBe('/users')
    expect(wrapper.find('[data-test="login-error"]').exists()).toBe(false)
    wrapper.unmount()
  })
})
