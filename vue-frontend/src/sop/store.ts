import { defineStore } from 'pinia'
import { computed, ref, watch } from 'vue'
import { useRealtimeStore } from '@/realtime/store'
import { RESYNC_EVENT, type RealtimeEvent } from '@/realtime/types'
import type { Account } from '@/devices/api'
import { sopApi, type AccountProgress, type Progress, type SopAction, type SopIn, type SopOut } from './api'

/**
 * State of the SOP page: the list, the open SOP, and their live progress.
 *
 * `sop.progress` events carry a SOP's whole progress (totals and every account); they are applied to that
 * SOP wherever it is shown (list row and open SOP). Accounts are merged by id, so an event naming only some
 * accounts leaves the others as they were. Events older (lower `seq`) than one already applied to the same
 * SOP are ignored, and a REST answer that was on its way while an event arrived keeps the event's progress.
 */
export const useSopStore = defineStore('sop', () => {
  const items = ref<SopOut[]>([])
  const loading = ref(false)
  const currentId = ref<string | null>(null)
  const current = ref<SopOut | null>(null)
  const currentLoading = ref(false)
  /** The organisation's WeChat accounts (target picker, account names of a SOP that has no progress yet). */
  const accounts = ref<Account[]>([])
  let accountsLoad: Promise<void> | null = null

  /** Per SOP: highest event seq applied, and how many events were applied (to spot REST answers overtaken by events). */
  const lastSeq = new Map<string, number>()
  const eventCount = new Map<string, number>()
  let listSeq = 0
  let openSeq = 0

  const currentProgress = computed(() => current.value?.progress ?? null)

  function mergeAccounts(known: AccountProgress[], incoming: AccountProgress[]): AccountProgress[] {
    if (!known.length) return incoming.map((a) => ({ ...a }))
    const byId = new Map(incoming.map((a) => [a.account_id, a]))
    const merged = known.map((a) => {
      const next = byId.get(a.account_id)
      if (!next) return a
      byId.delete(a.account_id)
      return { ...a, ...next, nickname: next.nickname || a.nickname }
    })
    return [...merged, ...[...byId.values()].map((a) => ({ ...a }))]
  }

  function withProgress(sop: SopOut, p: Progress): SopOut {
    const accounts = mergeAccounts(sop.progress?.accounts ?? [], p.accounts ?? [])
    return { ...sop, status: p.status ?? sop.status, progress: { sop_id: sop.id, status: p.status ?? sop.status, totals: { ...p.totals }, accounts } }
  }

  /**
   * Apply one `sop.progress` body (with the envelope's seq when known) to the SOP it names.
   * Returns 'applied', 'stale' (an older event) or 'missing' (the SOP is not on the page).
   */
  function applyProgress(p: Progress, seq: number | null = null): 'applied' | 'stale' | 'missing' {
    if (!p || !p.sop_id || !p.totals) return 'missing'
    const id = String(p.sop_id)
    if (seq != null) {
      const last = lastSeq.get(id)
      if (last != null && seq <= last) return 'stale'
      lastSeq.set(id, seq)
    }
    eventCount.set(id, (eventCount.get(id) ?? 0) + 1)
    let found = false
    const at = items.value.findIndex((s) => s.id === id)
    if (at >= 0) {
      items.value[at] = withProgress(items.value[at], p)
      found = true
    }
    if (current.value && current.value.id === id) {
      current.value = withProgress(current.value, p)
      found = true
    }
    return found ? 'applied' : 'missing'
  }

  /** A SOP fetched over REST: keeps the event-fed progress when events arrived while it was on its way. */
  function reconcile(fresh: SopOut, eventsBefore: number): SopOut {
    if ((eventCount.get(fresh.id) ?? 0) === eventsBefore) return fresh
    const known = items.value.find((s) => s.id === fresh.id) ?? (current.value?.id === fresh.id ? current.value : null)
    if (!known?.progress) return fresh
    return { ...fresh, status: known.status, progress: known.progress }
  }

  /** Put a SOP the API returned into the list and, when open, the detail. */
  function upsert(sop: SopOut, eventsBefore: number | null = null): SopOut {
    const next = eventsBefore == null ? sop : reconcile(sop, eventsBefore)
    const at = items.value.findIndex((s) => s.id === next.id)
    if (at >= 0) items.value[at] = next
    else items.value.unshift(next)
    if (currentId.value === next.id) current.value = next
    return next
  }

  function forget(id: string): void {
    items.value = items.value.filter((s) => s.id !== id)
    if (currentId.value === id) {
      currentId.value = null
      current.value = null
    }
    lastSeq.delete(id)
    eventCount.delete(id)
  }

  const countsNow = () => new Map(eventCount)

  async function loadList(): Promise<void> {
    const seq = ++listSeq
    const before = countsNow()
    loading.value = true
    try {
      const list = await sopApi.list()
      if (seq !== listSeq) return
      items.value = list.map((sop) => reconcile(sop, before.get(sop.id) ?? 0))
      const open = currentId.value ? items.value.find((s) => s.id === currentId.value) : null
      if (open && current.value) current.value = open
    } finally {
      if (seq === listSeq) loading.value = false
    }
  }

  /** Open one SOP (the detail pane); the list row shows at once, the fresh copy follows. */
  async function open(id: string): Promise<void> {
    const seq = ++openSeq
    currentId.value = id
    current.value = items.value.find((s) => s.id === id) ?? null
    currentLoading.value = true
    const before = eventCount.get(id) ?? 0
    try {
      const sop = await sopApi.get(id)
      if (seq !== openSeq) return
      upsert(sop, before)
    } catch (err) {
      if (seq === openSeq && !current.value) currentId.value = null
      throw err
    } finally {
      if (seq === openSeq) currentLoading.value = false
    }
  }

  function close(): void {
    openSeq++
    currentId.value = null
    current.value = null
    currentLoading.value = false
  }

  async function refreshCurrent(): Promise<void> {
    const id = currentId.value
    if (!id) return
    const seq = openSeq
    const before = eventCount.get(id) ?? 0
    const sop = await sopApi.get(id)
    if (seq === openSeq) upsert(sop, before)
  }

  async function create(body: SopIn): Promise<SopOut> {
    return upsert(await sopApi.create(body))
  }

  async function update(id: string, body: SopIn): Promise<SopOut> {
    return upsert(await sopApi.update(id, body))
  }

  async function remove(id: string): Promise<void> {
    await sopApi.remove(id)
    forget(id)
  }

  /** start / pause / resume / cancel; on a refused transition (409) the SOP is re-read, then the error rethrown. */
  async function transition(id: string, action: SopAction): Promise<SopOut> {
    const before = eventCount.get(id) ?? 0
    try {
      return upsert(await sopApi.transition(id, action), before)
    } catch (err) {
      void sopApi
        .get(id)
        .then((sop) => upsert(sop))
        .catch(() => undefined)
      throw err
    }
  }

  /** Load the accounts once (again with `force`); concurrent callers share one request. */
  function loadAccounts(force = false): Promise<void> {
    if (accountsLoad && !force) return accountsLoad
    accountsLoad = sopApi
      .accounts()
      .then((page) => {
        accounts.value = page.items
      })
      .catch((err) => {
        accountsLoad = null
        throw err
      })
    return accountsLoad
  }

  function accountName(id: string): string {
    const a = accounts.value.find((x) => x.id === id)
    return a ? a.nickname || a.wxid || id.slice(0, 8) : id.slice(0, 8)
  }

  /** Accounts a SOP sends from: those with progress, else the chosen ones (all when none was chosen). */
  function accountsOf(sop: SopOut): { account_id: string; nickname: string }[] {
    if (sop.progress?.accounts.length) return sop.progress.accounts.map((a) => ({ account_id: a.account_id, nickname: a.nickname }))
    const ids = sop.targets.account_ids.length ? sop.targets.account_ids : accounts.value.map((a) => a.id)
    return ids.map((id) => ({ account_id: id, nickname: accountName(id) }))
  }

  // --- realtime -----------------------------------------------------------------------------------

  let missingTimer: ReturnType<typeof setTimeout> | null = null
  function scheduleListReload(): void {
    if (missingTimer) return
    missingTimer = setTimeout(() => {
      missingTimer = null
      void loadList().catch(() => undefined)
    }, 1000)
  }

  function onProgress(event: RealtimeEvent<Progress>): void {
    const data = event?.data
    if (!data || typeof data !== 'object') return
    const seq = typeof event.seq === 'number' ? event.seq : null
    const openBefore = current.value?.id === String(data.sop_id) ? current.value.status : null
    const result = applyProgress(data, seq)
    // A SOP another manager just created: the list learns about it.
    if (result === 'missing') scheduleListReload()
    // A status change of the open SOP (completed, paused by a budget...): re-read it for its reason and times.
    if (result === 'applied' && openBefore && current.value && current.value.status !== openBefore) {
      void refreshCurrent().catch(() => undefined)
    }
  }

  /** Subscribe the page to `sop.progress`; returns the function that unsubscribes. */
  function connectRealtime(): () => void {
    const rt = useRealtimeStore()
    const offProgress = rt.subscribe<Progress>('sop.progress', onProgress)
    // Missed events that could not be replayed: reload the list and the open SOP.
    const offResync = rt.subscribe(RESYNC_EVENT, () => {
      void loadList().catch(() => undefined)
      void refreshCurrent().catch(() => undefined)
    })
    // Events missed while disconnected: reload once the connection is back.
    const stop = watch(
      () => rt.status,
      (status, previous) => {
        if (status !== 'connected' || previous === 'connected') return
        void loadList().catch(() => undefined)
        void refreshCurrent().catch(() => undefined)
      },
    )
    return () => {
      offProgress()
      offResync()
      stop()
      if (missingTimer) clearTimeout(missingTimer)
      missingTimer = null
    }
  }

  return {
    items,
    loading,
    currentId,
    current,
    currentLoading,
    currentProgress,
    accounts,
    loadAccounts,
    accountName,
    accountsOf,
    applyProgress,
    upsert,
    loadList,
    open,
    close,
    refreshCurrent,
    create,
    update,
    remove,
    transition,
    connectRealtime,
  }
})
