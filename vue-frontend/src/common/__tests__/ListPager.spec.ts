import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import ListPager from '@/common/ListPager.vue'

function pager(props: { total: number; page?: number; pageSize?: number }) {
  return mount(ListPager, { props: { page: 1, pageSize: 20, ...props }, attachTo: document.body })
}

describe('ListPager', () => {
  it('shows the total and moves to another page', async () => {
    const wrapper = pager({ total: 45 })
    expect(wrapper.find('.el-pagination__total').text()).toContain('45')
    await wrapper.find('button.btn-next').trigger('click')
    expect(wrapper.emitted('update:page')?.[0]).toEqual([2])
    expect(wrapper.emitted('current-change')?.[0]).toEqual([2])
    wrapper.unmount()
  })

  it('is hidden while everything fits on the first page', () => {
    const wrapper = pager({ total: 20 })
    expect(wrapper.find('.el-pagination').exists()).toBe(false)
    wrapper.unmount()
  })

  it('stays shown past the first page even when the total shrank', () => {
    const wrapper = pager({ total: 3, page: 2 })
    expect(wrapper.find('.el-pagination').exists()).toBe(true)
    wrapper.unmount()
  })
})
