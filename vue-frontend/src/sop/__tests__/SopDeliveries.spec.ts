import { beforeEach, describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { nextTick } from 'vue'
import { i18n } from '@/common/i18n'
import type { DeliveryOut } from '@/sop/api'
import SopDeliveries from '@/sop/SopDeliveries.vue'
import { json, mockFetch, waitFor, type Call } from '../../../tests/unit/helpers'
import { ACC_1, account, progress, sop, step } from './fixtures'

let pinia: Pinia

beforeEach(() => {
  pinia = createPinia()
  setActivePinia(pinia)
})

function delivery(id: number, overrides: Partial<DeliveryOut> = {}): DeliveryOut {
  return {
    id,
    step_id: 'step-1',
    step_position: 1,
    contact_id: `c-${id}`,
    contact_name: `客户${id}`,
    wxid: `wxid_${id}`,
    account_id: ACC_1,
    account_nickname: '门店一号',
    occurrence: 'once',
    status: 'dead',
    due_at: '2026-11-21T02:00:00Z',
    sent_at: null,
    late: false,
    attempts: 5,
    error: 'GeWe: 对方已删除好友',
    gewe_new_msg_id: null,
    ...overrides,
  }
}

const running = sop('s-1', { status: 'running', steps: [step(1), step(2)], progress: progress('s-1', [account(ACC_1, '门店一号', { sent: 3, dead: 2, total: 5 })]) })

function backend(call: Call): Response {
  const path = new URL(call.url, 'http://console').pathname
  if (path === '/api/sops/s-1/deliveries') return json({ total: 2, items: [delivery(7), delivery(8)] })
  if (path === '/api/sops/s-1/deliveries/7/retry') return json({ retried: 1 })
  if (path === '/api/sops/s-1/dead-letters/retry') return json({ retried: 2 })
  return json({ error: { code: 'not_found', message: path } }, 404)
}

const path = (c: Call) => new URL(c.url, 'http://console').pathname

describe('SopDeliveries', () => {
  it('lists dead letters with their reason and retries one of them', async () => {
    const { calls } = mockFetch(backend)
    const wrapper = mount(SopDeliveries, { props: { sop: running, dead: true, active: true }, global: { plugins: [pinia, i18n] }, attachTo: document.body })
    await waitFor(() => wrapper.text().includes('对方已删除好友'))
    expect(new URL(calls[0].url, 'http://console').searchParams.get('status')).toBe('dead')
    await wrapper.find('[data-test="sop-dead-retry-7"]').trigger('click')
    await waitFor(() => calls.some((c) => c.method === 'POST' && path(c) === '/api/sops/s-1/deliveries/7/retry'))
    await waitFor(() => wrapper.emitted('retried') !== undefined)
    expect(wrapper.emitted('retried')![0]).toEqual([1])
    wrapper.unmount()
  })

  it('retries every dead letter once the manager confirms', async () => {
    const { calls } = mockFetch(backend)
    const wrapper = mount(SopDeliveries, { props: { sop: running, dead: true, active: true }, global: { plugins: [pinia, i18n] }, attachTo: document.body })
    await waitFor(() => wrapper.text().includes('客户8'))
    await wrapper.find('[data-testid="sop-dead-retry-all"]').trigger('click')
    await waitFor(() => !!document.body.querySelector('.el-message-box__btns .el-button--primary'))
    expect(calls.some((c) => path(c) === '/api/sops/s-1/dead-letters/retry')).toBe(false)
    ;(document.body.querySelector('.el-message-box__btns .el-button--primary') as HTMLButtonElement).click()
    await waitFor(() => calls.some((c) => c.method === 'POST' && path(c) === '/api/sops/s-1/dead-letters/retry'))
    await waitFor(() => wrapper.emitted('retried') !== undefined)
    expect(wrapper.emitted('retried')![0]).toEqual([2])
    wrapper.unmount()
  })

  it('asks for deliveries filtered by status, account, step and search, a page at a time', async () => {
    const { calls } = mockFetch(backend)
    const wrapper = mount(SopDeliveries, { props: { sop: running, active: true }, global: { plugins: [pinia, i18n] }, attachTo: document.body })
    await waitFor(() => calls.length === 1)
    const vm = wrapper.vm as unknown as { load: () => Promise<void>; filters: Record<string, string> }
    Object.assign(vm.filters, { status: 'sent', account_id: ACC_1, step_id: 'step-2', q: '王' })
    await nextTick()
    await waitFor(() => calls.some((c) => new URL(c.url, 'http://console').searchParams.get('q') === '王'))
    await vm.load()
    const query = new URL(calls[calls.length - 1].url, 'http://console').searchParams
    expect(Object.fromEntries(query)).toEqual({ status: 'sent', account_id: ACC_1, step_id: 'step-2', q: '王', limit: '20', offset: '0' })
    wrapper.unmount()
  })
})
