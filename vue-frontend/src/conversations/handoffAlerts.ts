/**
 * Global handoff alerts: while a sales / manager / admin user is logged in (on any page), a
 * `handoff.requested` (or `handoff.escalated`) event addressed to them shows a toast with a 查看 button
 * that opens /conversations?id=<id>, and plays a short beep generated with WebAudio.
 *
 * Wired once from the app layout with `useHandoffAlerts()`.
 */
import { getCurrentInstance, h, onBeforeUnmount, type AppContext } from 'vue'
import { useRouter, type Router } from 'vue-router'
import { ElButton, ElNotification } from 'element-plus'
import 'element-plus/es/components/notification/style/css'
import 'element-plus/es/components/button/style/css'
import { useAuthStore } from '@/auth/store'
import { t } from '@/common/i18n'
import type { Role, User } from '@/common/types'
import { useRealtimeStore } from '@/realtime/store'
import type { RealtimeEvent } from '@/realtime/types'
import type { HandoffEvent } from './api'

/** Roles that work conversations (the /conversations route's roles). */
export const HANDOFF_ROLES: readonly Role[] = ['sales', 'manager', 'admin']

export const HANDOFF_EVENTS = ['handoff.requested', 'handoff.escalated'] as const
export type HandoffEventType = (typeof HANDOFF_EVENTS)[number]

/** The event body; the backend may also name the users it is addressed to. */
export type HandoffAlertData = HandoffEvent & { recipients?: Array<string | number> | null }

export interface AlertAuth {
  role: Role | null
  user: Pick<User, 'id'> | null
}

/** True when this user should see the alert: a workbench role, and among the recipients when they are named. */
export function shouldAlert(data: HandoffAlertData | null | undefined, auth: AlertAuth): boolean {
  if (!data?.conversation?.id) return false
  if (!auth.role || !HANDOFF_ROLES.includes(auth.role)) return false
  if (Array.isArray(data.recipients) && data.recipients.length && auth.user) {
    return data.recipients.map(String).includes(String(auth.user.id))
  }
  return true
}

type AudioCtor = new () => AudioContext
let audio: AudioContext | null = null

/** A short two-tone beep. Silent (never throws) where WebAudio is missing or refuses to play. */
export function playBeep(): void {
  try {
    const w = (typeof window !== 'undefined' ? window : undefined) as
      | (Window & { AudioContext?: AudioCtor; webkitAudioContext?: AudioCtor })
      | undefined
    const Ctor = w?.AudioContext ?? w?.webkitAudioContext
    if (!Ctor) return
    audio ??= new Ctor()
    const ctx = audio
    if (ctx.state === 'suspended') {
      const resumed = ctx.resume?.()
      if (resumed && typeof resumed.catch === 'function') resumed.catch(() => undefined)
    }
    const start = ctx.currentTime
    for (const [i, freq] of [880, 1175].entries()) {
      const at = start + i * 0.18
      const osc = ctx.createOscillator()
      const gain = ctx.createGain()
      osc.type = 'sine'
      osc.frequency.setValueAtTime(freq, at)
      gain.gain.setValueAtTime(0.0001, at)
      gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02)
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.16)
      osc.connect(gain)
      gain.connect(ctx.destination)
      osc.start(at)
      osc.stop(at + 0.17)
    }
  } catch {
    // no sound available: the toast is enough
  }
}

/** For tests: forget the shared AudioContext. */
export function resetBeep(): void {
  audio = null
}

export interface HandoffAlertOptions {
  realtime: Pick<ReturnType<typeof useRealtimeStore>, 'subscribe'>
  auth: AlertAuth
  router: Pick<Router, 'push'>
  appContext?: AppContext | null
  beep?: () => void
}

/** Subscribe to handoff events and show the toasts; returns the unsubscribe function. */
export function installHandoffAlerts(opts: HandoffAlertOptions): () => void {
  const seen = new Set<string>()
  const beep = opts.beep ?? playBeep

  function show(type: HandoffEventType, event: RealtimeEvent<HandoffAlertData>): void {
    const data = event?.data
    if (!shouldAlert(data, opts.auth)) return
    const conv = data.conversation
    const key = typeof event.seq === 'number' ? `seq:${event.seq}` : `${type}:${conv.id}:${conv.lease_version}`
    if (seen.has(key)) return
    seen.add(key)
    if (seen.size > 500) seen.delete(seen.values().next().value as string)

    const escalated = type === 'handoff.escalated'
    let handle: { close: () => void } | null = null
    const view = () => {
      handle?.close()
      void opts.router.push({ path: '/conversations', query: { id: conv.id } })
    }
    const body = () =>
      h('div', { class: 'handoff-toast__body', 'data-test': 'handoff-toast', 'data-id': conv.id }, [
        h(
          'div',
          { class: 'handoff-toast__heading', 'data-test': 'handoff-toast-heading', style: 'font-weight:600;margin-bottom:4px' },
          t(escalated ? 'conversations.handoff.escalatedTitle' : 'conversations.handoff.title'),
        ),
        h('div', { class: 'handoff-toast__title', 'data-test': 'handoff-toast-title', style: 'font-weight:500' }, conv.title || conv.chat_wxid),
        data.reason
          ? h('div', { class: 'handoff-toast__reason', 'data-test': 'handoff-toast-reason', style: 'margin-top:2px' }, t('conversations.handoff.reason', { reason: data.reason }))
          : null,
        data.summary ? h('div', { class: 'handoff-toast__summary', style: 'margin-top:2px;color:var(--el-text-color-secondary)' }, data.summary) : null,
        h(
          ElButton,
          { type: 'primary', size: 'small', class: 'handoff-toast__view', style: 'margin-top:8px', 'data-test': 'handoff-view', onClick: view },
          () => t('conversations.handoff.view'),
        ),
      ])
    handle = ElNotification(
      {
        message: body,
        type: escalated ? 'error' : 'warning',
        // Stays until acted upon: a handoff has a deadline.
        duration: 0,
        customClass: 'handoff-toast',
        position: 'top-right',
      },
      opts.appContext ?? null,
    )
    beep()
  }

  const offs = HANDOFF_EVENTS.map((type) =>
    opts.realtime.subscribe<HandoffAlertData>(type, (event) => {
      try {
        show(type, event)
      } catch (err) {
        console.error('[handoff] alert failed', err)
      }
    }),
  )
  return () => offs.forEach((off) => off())
}

/** Install the alerts for the lifetime of the calling component (the app layout). */
export function useHandoffAlerts(): void {
  const auth = useAuthStore()
  const off = installHandoffAlerts({
    realtime: useRealtimeStore(),
    auth,
    router: useRouter(),
    appContext: getCurrentInstance()?.appContext ?? null,
  })
  onBeforeUnmount(off)
}
