/** Server -> console events (Socket.IO event name = `type`). */
export const EVENT_TYPES = [
  'device.status',
  'message.new',
  'message.status',
  'conversation.updated',
  'handoff.requested',
  'handoff.escalated',
  'sop.progress',
  'cost.updated',
  'cost.alert',
  'system.alert',
] as const

export type EventType = (typeof EVENT_TYPES)[number]

export interface RealtimeEvent<D = unknown> {
  seq: number
  type: EventType | string
  at: string
  data: D
}

export interface HelloPayload {
  user_id: number | string
  organization_id: number | string
  seq: number
}

/** `GET /api/events?since=N&limit=L`: events of the caller's organisation after `since`, oldest first. */
export interface EventPage {
  items: RealtimeEvent[]
  /** seq of the last item (or `since` when there is none). */
  last_seq: number
  /** More events follow: ask again with `since=last_seq`. */
  has_more: boolean
}

/** Why the console gave up replaying and asked the features to reload (`resync` event data). */
export type ResyncReason = 'unknown_position' | 'sequence_restarted' | 'events_missing' | 'too_far_behind' | 'replay_failed'

export interface ResyncData {
  reason: ResyncReason
  /** The seq the console had seen before the connection dropped (null when unknown). */
  since: number | null
}

/** Local event (never sent by the server) telling feature stores to reload what they show. */
export const RESYNC_EVENT = 'resync'

export type ConnectionStatus = 'connecting' | 'connected' | 'disconnected' | 'unauthorized'
