import { defineStore } from 'pinia'
import { computed, ref, watch } from 'vue'
import { useAuthStore } from '@/auth/store'
import { t } from '@/common/i18n'
import { useRealtimeStore } from '@/realtime/store'
import { RESYNC_EVENT } from '@/realtime/types'
import {
  conversationsApi,
  type ConversationDetail,
  type ConversationFilter,
  type ConversationOut,
  type HandoffEvent,
  type MessageOut,
  type NoteOut,
  type SendBody,
} from './api'

/** Statuses only move forward: a late `sending` never hides a `sent` or `failed`. */
const STATUS_RANK: Record<string, number> = { received: 0, sending: 0, processed: 1, sent: 2, failed: 2 }
const rank = (status: string) => STATUS_RANK[status] ?? 0

/** Message ids whose list effect (move to top, unread bump) was applied are remembered up to this many. */
const COUNTED_MAX = 5000

export function messageTime(m: MessageOut): string {
  return m.sent_at ?? m.created_at
}

/** One-line preview of a message for the conversation list. */
export function previewOf(m: MessageOut): string {
  const text = (m.text ?? '').trim()
  if (m.kind === 'text') return text.slice(0, 120)
  if (m.kind === 'image') return t('conversations.preview.image')
  if (m.kind === 'link') {
    const title = typeof m.payload?.title === 'string' ? m.payload.title : text
    return `${t('conversations.preview.link')} ${title}`.trim().slice(0, 120)
  }
  return (text || t('conversations.preview.other')).slice(0, 120)
}

/** `b` merged over `a` (same id): statuses never go backwards, a known decision id is kept. */
function mergeMessage(a: MessageOut, b: MessageOut): MessageOut {
  const decision_id = b.decision_id ?? a.decision_id ?? null
  if (rank(b.status) < rank(a.status)) return { ...a, decision_id }
  return { ...a, ...b, decision_id }
}

function stripNotes(detail: ConversationDetail | ConversationOut): ConversationOut {
  const { notes: _notes, ...rest } = detail as ConversationDetail
  return rest
}

function lastMessageMs(c: ConversationOut): number {
  return c.last_message_at ? Date.parse(c.last_message_at) || 0 : 0
}

/**
 * State of the sales workbench: the conversation list, the open conversation and its messages.
 *
 * Realtime events are applied idempotently: messages are kept by id (a repeated `message.new` neither
 * duplicates the bubble nor bumps the unread count twice), `message.status` replaces a message by id,
 * `conversation.updated` replaces the row (older lease versions are ignored).
 */
export const useConversationsStore = defineStore('conversations', () => {
  const auth = useAuthStore()

  const items = ref<ConversationOut[]>([])
  const filter = ref<ConversationFilter>('all')
  const accountId = ref<string | null>(null)
  /** Accounts seen in any list so far (id -> nickname), for the account picker. */
  const accounts = ref<Record<string, string>>({})
  const listLoading = ref(false)

  const currentId = ref<string | null>(null)
  const current = ref<ConversationDetail | null>(null)
  const messages = ref<MessageOut[]>([])
  const hasMore = ref(false)
  const messagesLoading = ref(false)
  const olderLoading = ref(false)

  const myId = computed(() => (auth.user ? String(auth.user.id) : null))

  const counted = new Set<number>()
  let listSeq = 0
  let openSeq = 0

  function matchesFilter(c: ConversationOut, f: ConversationFilter = filter.value): boolean {
    if (accountId.value && c.account_id !== accountId.value) return false
    switch (f) {
      case 'mine':
        return c.holder === 'staff' && c.holder_user_id != null && String(c.holder_user_id) === myId.value
      case 'waiting':
        return c.mode === 'pending_human'
      case 'ai':
      case 'human':
      case 'closed':
        return c.mode === f
      default:
        return true
    }
  }

  function rememberAccounts(list: ConversationOut[]): void {
    const next = { ...accounts.value }
    let changed = false
    for (const c of list) {
      if (c.account_id && next[c.account_id] !== c.account_nickname) {
        next[c.account_id] = c.account_nickname
        changed = true
      }
    }
    if (changed) accounts.value = next
  }

  function remember(id: number): void {
    counted.add(id)
    if (counted.size > COUNTED_MAX) {
      let drop = counted.size - COUNTED_MAX + 500
      for (const old of counted) {
        if (drop-- <= 0) break
        counted.delete(old)
      }
    }
  }

  function isHeldByMe(c: ConversationOut | null): boolean {
    return !!c && c.mode === 'human' && c.holder === 'staff' && String(c.holder_user_id) === myId.value
  }

  // --- event application --------------------------------------------------------------------------

  /** Insert or merge one message of the open conversation, keeping the list sorted by id. */
  function upsertMessage(m: MessageOut): void {
    const list = messages.value
    const at = list.findIndex((x) => x.id === m.id)
    if (at >= 0) {
      list[at] = mergeMessage(list[at], m)
      return
    }
    const entry = { ...m, decision_id: m.decision_id ?? null }
    if (!list.length || list[list.length - 1].id < m.id) {
      list.push(entry)
      return
    }
    const before = list.findIndex((x) => x.id > m.id)
    list.splice(before < 0 ? list.length : before, 0, entry)
  }

  function mergeMessages(incoming: MessageOut[]): void {
    for (const m of incoming) upsertMessage(m)
  }

  /**
   * A new message: into the open conversation's history; its row moves to the top with the new preview,
   * and its unread count goes up by one for a customer message unless the conversation is open.
   * Returns 'missing' when the conversation is not in the list (the caller may fetch it).
   */
  function applyMessageNew(m: MessageOut): 'applied' | 'duplicate' | 'missing' {
    if (m.conversation_id === currentId.value) upsertMessage(m)
    if (counted.has(m.id)) return 'duplicate'
    remember(m.id)
    const at = items.value.findIndex((c) => c.id === m.conversation_id)
    const time = messageTime(m)
    const preview = previewOf(m)
    if (current.value && current.value.id === m.conversation_id) {
      current.value = { ...current.value, last_message_at: time, last_message_preview: preview }
    }
    if (at < 0) return 'missing'
    const old = items.value[at]
    const bump = m.direction === 'in' && m.conversation_id !== currentId.value ? 1 : 0
    const row: ConversationOut = {
      ...old,
      last_message_at: time ?? old.last_message_at,
      last_message_preview: preview || old.last_message_preview,
      unread_count: old.unread_count + bump,
    }
    items.value.splice(at, 1)
    items.value.unshift(row)
    return 'applied'
  }

  /** A message's status changed: replace it by id (inserted when it belongs to the open conversation). */
  function applyMessageStatus(m: MessageOut): void {
    if (m.conversation_id !== currentId.value) return
    upsertMessage(m)
  }

  /** A conversation changed: replace its row (and the open conversation); stale lease versions are ignored. */
  function applyConversation(incoming: ConversationOut): boolean {
    const c = stripNotes(incoming)
    const at = items.value.findIndex((x) => x.id === c.id)
    const known = at >= 0 ? items.value[at] : current.value?.id === c.id ? current.value : null
    if (known && c.lease_version < known.lease_version) return false
    const isOpen = c.id === currentId.value
    const next: ConversationOut = isOpen ? { ...c, unread_count: 0 } : c
    if (at >= 0) {
      if (!isOpen && !matchesFilter(next)) items.value.splice(at, 1)
      else items.value[at] = next
    } else if (matchesFilter(next)) {
      const ms = lastMessageMs(next)
      const before = items.value.findIndex((x) => lastMessageMs(x) < ms)
      items.value.splice(before < 0 ? items.value.length : before, 0, next)
    }
    if (current.value && current.value.id === c.id) {
      current.value = { ...current.value, ...next, notes: current.value.notes }
    }
    rememberAccounts([next])
    return true
  }

  function applyHandoff(data: HandoffEvent): void {
    if (data?.conversation) applyConversation(data.conversation)
  }

  // --- loading ------------------------------------------------------------------------------------

  async function loadList(): Promise<void> {
    const seq = ++listSeq
    listLoading.value = true
    try {
      const page = await conversationsApi.list(filter.value, accountId.value)
      if (seq !== listSeq) return
      items.value = page.items.map((c) => (c.id === currentId.value ? { ...c, unread_count: 0 } : c))
      rememberAccounts(page.items)
    } finally {
      if (seq === listSeq) listLoading.value = false
    }
  }

  async function setFilter(f: ConversationFilter): Promise<void> {
    filter.value = f
    await loadList()
  }

  async function setAccount(id: string | null): Promise<void> {
    accountId.value = id || null
    await loadList()
  }

  /** Open a conversation: its details, latest messages, and mark it read. */
  async function open(id: string, force = false): Promise<void> {
    if (!force && currentId.value === id && current.value) return
    const seq = ++openSeq
    currentId.value = id
    const at = items.value.findIndex((c) => c.id === id)
    if (at >= 0) items.value[at] = { ...items.value[at], unread_count: 0 }
    current.value = at >= 0 ? { ...items.value[at], notes: [] } : null
    messages.value = []
    hasMore.value = false
    messagesLoading.value = true
    try {
      const [detail, page] = await Promise.all([conversationsApi.get(id), conversationsApi.messages(id)])
      if (seq !== openSeq) return
      const arrived = messages.value
      // An event may have brought a newer state while the details were on their way.
      const row = items.value.find((c) => c.id === id)
      current.value = row && row.lease_version > detail.lease_version ? { ...row, notes: detail.notes } : detail
      messages.value = []
      mergeMessages(page.items)
      mergeMessages(arrived)
      hasMore.value = page.has_more
      applyConversation(detail)
    } catch (err) {
      if (seq === openSeq && !current.value) currentId.value = null
      if (seq === openSeq) throw err
    } finally {
      if (seq === openSeq) messagesLoading.value = false
    }
    void markRead()
  }

  function close(): void {
    openSeq++
    currentId.value = null
    current.value = null
    messages.value = []
    hasMore.value = false
    messagesLoading.value = false
  }

  async function loadOlder(): Promise<void> {
    const id = currentId.value
    if (!id || olderLoading.value || !hasMore.value || !messages.value.length) return
    const seq = openSeq
    olderLoading.value = true
    try {
      const page = await conversationsApi.messages(id, messages.value[0].id)
      if (seq !== openSeq) return
      mergeMessages(page.items)
      hasMore.value = page.has_more
    } finally {
      olderLoading.value = false
    }
  }

  /** Re-read the latest page of the open conversation (after a reconnect, or for decision ids). */
  async function refreshLatest(): Promise<void> {
    const id = currentId.value
    if (!id) return
    const seq = openSeq
    const page = await conversationsApi.messages(id)
    if (seq === openSeq) mergeMessages(page.items)
  }

  async function refreshCurrent(): Promise<void> {
    const id = currentId.value
    if (!id) return
    const seq = openSeq
    const detail = await conversationsApi.get(id)
    if (seq !== openSeq) return
    if (current.value) current.value = { ...current.value, notes: detail.notes }
    applyConversation(detail)
  }

  async function markRead(): Promise<void> {
    const id = currentId.value
    if (!id) return
    try {
      applyConversation(await conversationsApi.read(id))
    } catch {
      // best effort: the count is zeroed locally anyway
    }
  }

  // --- actions on the open conversation ----------------------------------------------------------

  async function act(call: (id: string) => Promise<ConversationOut>): Promise<ConversationOut | null> {
    const id = currentId.value
    if (!id) return null
    const c = await call(id)
    applyConversation(c)
    return c
  }

  const takeover = (reason?: string) => act((id) => conversationsApi.takeover(id, reason))
  const release = (reason?: string) => act((id) => conversationsApi.release(id, reason))
  const transfer = (userId: string, reason?: string) => act((id) => conversationsApi.transfer(id, userId, reason))
  const resolve = () => act((id) => conversationsApi.resolve(id))
  const setTags = (tags: string[]) => act((id) => conversationsApi.setTags(id, tags))

  /** Send as a person; when the AI (or nobody) held the chat, the backend takes it over for us. */
  async function send(body: SendBody): Promise<MessageOut | null> {
    const id = currentId.value
    if (!id) return null
    const heldByMe = isHeldByMe(current.value)
    const m = await conversationsApi.send(id, body)
    applyMessageNew(m)
    if (!heldByMe && currentId.value === id) void refreshCurrent().catch(() => undefined)
    return m
  }

  async function addNote(text: string): Promise<NoteOut | null> {
    const id = currentId.value
    if (!id) return null
    const note = await conversationsApi.addNote(id, text)
    if (current.value && current.value.id === id) {
      current.value = { ...current.value, notes: [...(current.value.notes ?? []), note] }
    }
    return note
  }

  // --- realtime -----------------------------------------------------------------------------------

  const fetching = new Set<string>()
  async function fetchMissing(id: string): Promise<void> {
    if (fetching.has(id)) return
    fetching.add(id)
    try {
      applyConversation(await conversationsApi.get(id))
    } catch {
      // not visible to us (or gone): nothing to show
    } finally {
      fetching.delete(id)
    }
  }

  let readTimer: ReturnType<typeof setTimeout> | null = null
  function scheduleRead(): void {
    if (readTimer) clearTimeout(readTimer)
    readTimer = setTimeout(() => {
      readTimer = null
      void markRead()
    }, 1000)
  }

  let latestTimer: ReturnType<typeof setTimeout> | null = null
  function scheduleLatest(): void {
    if (latestTimer) clearTimeout(latestTimer)
    latestTimer = setTimeout(() => {
      latestTimer = null
      void refreshLatest().catch(() => undefined)
    }, 1000)
  }

  function onMessageNew(m: MessageOut): void {
    if (!m || typeof m !== 'object') return
    const result = applyMessageNew(m)
    if (result === 'missing') void fetchMissing(m.conversation_id)
    if (m.conversation_id === currentId.value) {
      if (m.direction === 'in') scheduleRead()
      // Events may carry no decision id: re-read the page so the AI reply gets its "why" link.
      if (m.sent_by === 'ai' && m.decision_id == null) scheduleLatest()
    }
  }

  /** Subscribe the workbench to live events; returns the function that unsubscribes. */
  function connectRealtime(): () => void {
    const rt = useRealtimeStore()
    const offs = [
      rt.subscribe<MessageOut>('message.new', (e) => onMessageNew(e.data)),
      rt.subscribe<MessageOut>('message.status', (e) => e.data && applyMessageStatus(e.data)),
      rt.subscribe<ConversationOut>('conversation.updated', (e) => e.data && void applyConversation(e.data)),
      rt.subscribe<HandoffEvent>('handoff.requested', (e) => applyHandoff(e.data)),
      rt.subscribe<HandoffEvent>('handoff.escalated', (e) => applyHandoff(e.data)),
      // Missed events that could not be replayed: reload what the workbench shows.
      rt.subscribe(RESYNC_EVENT, () => {
        void loadList().catch(() => undefined)
        void refreshLatest().catch(() => undefined)
        void refreshCurrent().catch(() => undefined)
      }),
    ]
    // Events missed while disconnected: reload once the connection is back.
    const stop = watch(
      () => rt.status,
      (status, previous) => {
        if (status !== 'connected' || previous === 'connected') return
        void loadList().catch(() => undefined)
        void refreshLatest().catch(() => undefined)
        void refreshCurrent().catch(() => undefined)
      },
    )
    return () => {
      offs.forEach((off) => off())
      stop()
      if (readTimer) clearTimeout(readTimer)
      if (latestTimer) clearTimeout(latestTimer)
      readTimer = latestTimer = null
    }
  }

  return {
    items,
    filter,
    accountId,
    accounts,
    listLoading,
    currentId,
    current,
    messages,
    hasMore,
    messagesLoading,
    olderLoading,
    myId,
    matchesFilter,
    isHeldByMe,
    applyMessageNew,
    applyMessageStatus,
    applyConversation,
    applyHandoff,
    loadList,
    setFilter,
    setAccount,
    open,
    close,
    loadOlder,
    refreshLatest,
    refreshCurrent,
    markRead,
    takeover,
    release,
    transfer,
    resolve,
    setTags,
    send,
    addNote,
    connectRealtime,
  }
})
