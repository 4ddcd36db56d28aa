import { beforeEach, describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { nextTick } from 'vue'
import { i18n } from '@/common/i18n'
import SopEditor from '@/sop/SopEditor.vue'
import type { SopForm } from '@/sop/form'
import { json, mockFetch, waitFor, type Call } from '../../../tests/unit/helpers'
import { ACC_1, sop } from './fixtures'

let pinia: Pinia

beforeEach(() => {
  pinia = createPinia()
  setActivePinia(pinia)
})

function backend(call: Call): Response {
  const path = new URL(call.url, 'http://console').pathname
  if (path === '/api/accounts') return json({ items: [{ id: ACC_1, nickname: '门店一号', wxid: 'wxid_1', status: 'online' }], total: 1 })
  if (path === '/api/sops/target-count') return json({ total: 12, accounts: [{ account_id: ACC_1, nickname: '门店一号', friends: 12, groups: 0 }] })
  if (path === '/api/sops' && call.method === 'POST') return json(sop('s-new', { name: (call.body as { name: string }).name }), 201)
  return json({ error: { code: 'not_found', message: 'nope' } }, 404)
}

function mountEditor() {
  return mount(SopEditor, { props: { modelValue: true, sop: null }, global: { plugins: [pinia, i18n] }, attachTo: document.body })
}

const countCalls = (calls: Call[]) => calls.filter((c) => c.url.endsWith('/api/sops/target-count'))

describe('SopEditor', () => {
  it('posts the SopIn built from its form when saved', async () => {
    const { calls } = mockFetch(backend)
    const wrapper = mountEditor()
    const form = (wrapper.vm as unknown as { form: SopForm }).form
    form.name = '老客回访'
    form.targets.account_ids = [ACC_1]
    form.steps[0].content.text = '{称呼}您好'
    form.steps[0].timing.day = 2
    await nextTick()
    ;(document.body.querySelector('[data-test="sop-save"]') as HTMLButtonElement).click()
    await waitFor(() => calls.some((c) => c.method === 'POST' && c.url === '/api/sops'))
    const post = calls.find((c) => c.method === 'POST' && c.url === '/api/sops')!
    expect(post.body).toMatchObject({
      name: '老客回访',
      timezone: 'Asia/Shanghai',
      targets: { account_ids: [ACC_1], kinds: 'friends', tags: [], tag_mode: 'any', contact_ids: [] },
      steps: [
        {
          content: { kind: 'text', text: '{称呼}您好' },
          timing: { kind: 'day_offset', day: 2, time: '10:00', anchor: 'friend_added' },
          window_start: '09:00',
          window_end: '21:00',
        },
      ],
    })
    await waitFor(() => wrapper.emitted('saved') !== undefined)
    expect(wrapper.emitted('saved')![0][0]).toMatchObject({ id: 's-new', name: '老客回访' })
    wrapper.unmount()
  })

  it('does not post a form the backend would refuse', async () => {
    const { calls } = mockFetch(backend)
    const wrapper = mountEditor()
    ;(document.body.querySelector('[data-test="sop-save"]') as HTMLButtonElement).click()
    await new Promise((r) => setTimeout(r, 50))
    expect(calls.filter((c) => c.method === 'POST' && c.url === '/api/sops')).toEqual([])
    wrapper.unmount()
  })

  it('asks for the live target count once the target edits settle', async () => {
    const { calls } = mockFetch(backend)
    const wrapper = mountEditor()
    await waitFor(() => countCalls(calls).length === 1)
    await waitFor(() => document.body.querySelector('[data-test="sop-target-count"]')?.getAttribute('data-total') === '12')
    expect(document.body.querySelector('[data-test="sop-target-count"]')!.textContent).toContain('预计覆盖 12 个对象')
    const form = (wrapper.vm as unknown as { form: SopForm }).form
    form.targets.tags = ['VIP']
    await nextTick()
    form.targets.tags = ['VIP', '新客']
    await nextTick()
    form.targets.tag_mode = 'all'
    await waitFor(() => countCalls(calls).length === 2)
    await new Promise((r) => setTimeout(r, 500))
    expect(countCalls(calls)).toHaveLength(2)
    expect(countCalls(calls)[1].body).toEqual({ account_ids: [], kinds: 'friends', tags: ['VIP', '新客'], tag_mode: 'all', contact_ids: [] })
    wrapper.unmount()
  })
})
