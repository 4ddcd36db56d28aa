import { onBeforeUnmount, ref, watch, type Ref } from 'vue'
import { notifyError } from '@/common/feedback'

const SEARCH_DELAY_MS = 350

/**
 * A server-paged list: the current page's rows and total, a `load` that ignores answers overtaken by a newer
 * request, `search` (back to page 1), and a debounced reload while the search text is typed.
 */
export function usePagedList<T>(
  fetchPage: (limit: number, offset: number) => Promise<{ items: T[]; total: number }>,
  searchText: () => string,
) {
  const page = ref(1)
  const pageSize = ref(20)
  const rows = ref([]) as Ref<T[]>
  const total = ref(0)
  const loading = ref(false)
  let seq = 0

  async function load(): Promise<void> {
    const mine = ++seq
    loading.value = true
    try {
      const result = await fetchPage(pageSize.value, (page.value - 1) * pageSize.value)
      if (mine !== seq) return
      rows.value = result.items
      total.value = result.total
    } catch (err) {
      if (mine === seq) notifyError(err)
    } finally {
      if (mine === seq) loading.value = false
    }
  }

  function search(): void {
    page.value = 1
    void load()
  }

  let searchTimer: ReturnType<typeof setTimeout> | null = null
  watch(searchText, () => {
    if (searchTimer) clearTimeout(searchTimer)
    searchTimer = setTimeout(search, SEARCH_DELAY_MS)
  })
  onBeforeUnmount(() => {
    if (searchTimer) clearTimeout(searchTimer)
  })

  return { page, pageSize, rows, total, loading, load, search }
}
