import { beforeEach, describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import DevicesPage from '@/devices/DevicesPage.vue'
import { i18n } from '@/common/i18n'
import { json, mockFetch, waitFor, type Call } from '../../../tests/unit/helpers'

let pinia: Pinia

beforeEach(() => {
  pinia = createPinia()
  setActivePinia(pinia)
})

const account = {
  id: 'a-1',
  nickname: '门店一号',
  owner_user_id: null,
  app_id: 'wx_1',
  wxid: 'wxid_1',
  status: 'online',
  status_detail: '',
  status_changed_at: '2026-11-21T00:00:00Z',
  ai_enabled: true,
  persona: '',
  pacing: {},
  has_gewe_token: false,
  callback_url: 'http://x/callbacks/gewe/s',
  created_at: '2026-11-21T00:00:00Z',
}

function backend(call: Call): Response {
  const url = new URL(call.url, 'http://console')
  if (url.pathname === '/api/accounts') return json({ items: [account], total: 1 })
  if (url.pathname === '/api/accounts/a-1/contacts') return json({ items: [], total: 8 })
  return json({}, 404)
}

describe('DevicesPage', () => {
  it('lists the accounts with their status and contact count', async () => {
    mockFetch(backend)
    const wrapper = mount(DevicesPage, { global: { plugins: [pinia, i18n] }, attachTo: document.body })
    await waitFor(() => wrapper.text().includes('门店一号') && wrapper.text().includes('8'))
    expect(wrapper.find('[data-test="status"]').text()).toBe('在线')
    wrapper.unmount()
  })
})
