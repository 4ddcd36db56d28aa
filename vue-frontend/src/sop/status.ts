import type { Counts, SopAction, SopOut, SopStatus } from './api'

/** Everything a manager can do to a SOP from the console. */
export type SopCommand = SopAction | 'edit' | 'delete'

/**
 * What each status allows, as the backend rules it (backend/sop/service.py: TRANSITIONS and EDITABLE; it
 * answers 409 with the reason otherwise). The console shows only the buttons that can succeed: a running
 * SOP is paused or cancelled before it is edited or deleted. A draft is deleted rather than cancelled
 * (the backend would also cancel it, which only leaves an unsent SOP behind).
 */
const ALLOWED: Record<SopStatus, readonly SopCommand[]> = {
  draft: ['start', 'edit', 'delete'],
  running: ['pause', 'cancel'],
  paused: ['resume', 'cancel', 'edit', 'delete'],
  cancelled: ['edit', 'delete'],
  completed: ['edit', 'delete'],
}

export function allowedActions(status: SopStatus): readonly SopCommand[] {
  return ALLOWED[status] ?? []
}

export function can(status: SopStatus, command: SopCommand): boolean {
  return allowedActions(status).includes(command)
}

export type TagType = 'primary' | 'success' | 'info' | 'warning' | 'danger'

export const STATUS_TAG: Record<SopStatus, TagType> = {
  draft: 'info',
  running: 'primary',
  paused: 'warning',
  cancelled: 'danger',
  completed: 'success',
}

export const DELIVERY_TAG: Record<string, TagType> = {
  pending: 'info',
  claimed: 'info',
  sending: 'primary',
  sent: 'success',
  skipped: 'warning',
  dead: 'danger',
  cancelled: 'info',
}

/** Sent share of all deliveries, in percent, one decimal, rounded down (100 only once everything is sent). */
export function sentPercent(counts: Pick<Counts, 'sent' | 'total'> | null | undefined): number {
  if (!counts || !counts.total || counts.total <= 0) return 0
  const value = Math.floor((Math.max(0, counts.sent) * 1000) / counts.total) / 10
  return Math.min(100, value)
}

/** Deliveries that will not change any more (sent, skipped, dead or cancelled). */
export function finished(counts: Counts): number {
  return counts.sent + counts.skipped + counts.dead + counts.cancelled
}

export function emptyCounts(): Counts {
  return { pending: 0, claimed: 0, sending: 0, sent: 0, skipped: 0, dead: 0, cancelled: 0, total: 0, late: 0 }
}

/** Whether a SOP has progress worth a bar: started once, or a draft that somehow has deliveries (the API sends zeros for drafts). */
export function showsProgress(sop: Pick<SopOut, 'status' | 'progress'>): boolean {
  return !!sop.progress && (sop.status !== 'draft' || sop.progress.totals.total > 0)
}
