import { beforeEach, describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { i18n } from '@/common/i18n'
import ConnectionIndicator from '@/realtime/ConnectionIndicator.vue'
import { useRealtimeStore } from '@/realtime/store'
import type { ConnectionStatus } from '@/realtime/types'

let pinia: Pinia

beforeEach(() => {
  pinia = createPinia()
  setActivePinia(pinia)
})

describe('ConnectionIndicator', () => {
  it.each<[ConnectionStatus, string]>([
    ['connected', '实时连接正常'],
    ['connecting', '连接中…'],
    ['disconnected', '已断开'],
  ])('shows %s as data-status and "%s"', async (status, text) => {
    const rt = useRealtimeStore()
    const wrapper = mount(ConnectionIndicator, { global: { plugins: [pinia, i18n] } })
    rt.status = status
    await wrapper.vm.$nextTick()
    const el = wrapper.find('[data-test="connection-indicator"]')
    expect(el.attributes('data-status')).toBe(status)
    expect(el.text()).toBe(text)
  })

  it('follows the store when the status changes', async () => {
    const rt = useRealtimeStore()
    rt.status = 'connecting'
    const wrapper = mount(ConnectionIndicator, { global: { plugins: [pinia, i18n] } })
    expect(wrapper.attributes('data-status')).toBe('connecting')
    rt.status = 'connected'
    await wrapper.vm.$nextTick()
    expect(wrapper.attributes('data-status')).toBe('connected')
    expect(wrapper.classes()).toContain('conn--connected')
  })
})
