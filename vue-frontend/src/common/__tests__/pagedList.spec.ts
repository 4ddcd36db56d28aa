import { afterEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h, nextTick, ref } from 'vue'
import { mount } from '@vue/test-utils'
import { usePagedList } from '@/common/pagedList'

type Fetch = (limit: number, offset: number) => Promise<{ items: string[]; total: number }>

function host(fetchPage: Fetch, searchText: () => string = () => '') {
  let list!: ReturnType<typeof usePagedList<string>>
  const wrapper = mount(
    defineComponent({
      setup() {
        list = usePagedList<string>(fetchPage, searchText)
        return () => h('div')
      },
    }),
  )
  return { wrapper, list }
}

afterEach(() => {
  vi.useRealTimers()
})

describe('usePagedList', () => {
  it('asks for the current page and keeps its rows and total', async () => {
    const fetchPage = vi.fn<Fetch>(async () => ({ items: ['a', 'b'], total: 42 }))
    const { wrapper, list } = host(fetchPage)
    list.page.value = 3
    await list.load()
    expect(fetchPage).toHaveBeenCalledWith(20, 40)
    expect(list.rows.value).toEqual(['a', 'b'])
    expect(list.total.value).toBe(42)
    expect(list.loading.value).toBe(false)
    wrapper.unmount()
  })

  it('ignores an answer overtaken by a newer request', async () => {
    const answers: Array<(v: { items: string[]; total: number }) => void> = []
    const { wrapper, list } = host(() => new Promise((resolve) => answers.push(resolve)))
    const first = list.load()
    const second = list.load()
    answers[1]({ items: ['new'], total: 1 })
    answers[0]({ items: ['old'], total: 9 })
    await Promise.all([first, second])
    expect(list.rows.value).toEqual(['new'])
    expect(list.total.value).toBe(1)
    wrapper.unmount()
  })

  it('goes back to page 1 once the search text settles', async () => {
    vi.useFakeTimers()
    const fetchPage = vi.fn<Fetch>(async () => ({ items: [], total: 0 }))
    const text = ref('')
    const { wrapper, list } = host(fetchPage, () => text.value)
    list.page.value = 4
    text.value = 'wang'
    await nextTick()
    text.value = 'wangwu'
    await nextTick()
    vi.advanceTimersByTime(349)
    expect(fetchPage).not.toHaveBeenCalled()
    vi.advanceTimersByTime(1)
    expect(fetchPage).toHaveBeenCalledTimes(1)
    expect(fetchPage).toHaveBeenCalledWith(20, 0)
    expect(list.page.value).toBe(1)
    wrapper.unmount()
  })
})
