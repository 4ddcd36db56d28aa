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

export type ConnectionStatus = 'connecting' | 'connected' | 'disconnected' | 'unauthorized'
