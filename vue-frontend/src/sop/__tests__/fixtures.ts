import type { AccountProgress, Counts, Progress, SopOut, StepOut } from '@/sop/api'

export const ACC_1 = 'aaaaaaaa-0000-0000-0000-000000000001'
export const ACC_2 = 'bbbbbbbb-0000-0000-0000-000000000002'

export function counts(overrides: Partial<Counts> = {}): Counts {
  return { pending: 0, claimed: 0, sending: 0, sent: 0, skipped: 0, dead: 0, cancelled: 0, total: 0, late: 0, ...overrides }
}

export function account(id: string, nickname: string, overrides: Partial<Counts> = {}): AccountProgress {
  return { account_id: id, nickname, ...counts(overrides) }
}

export function progress(sopId: string, accounts: AccountProgress[], status: Progress['status'] = 'running'): Progress {
  const totals = counts()
  for (const a of accounts) for (const key of Object.keys(totals) as (keyof Counts)[]) totals[key] += a[key]
  return { sop_id: sopId, status, totals, accounts }
}

export function step(position: number, overrides: Partial<StepOut> = {}): StepOut {
  return {
    id: `step-${position}`,
    position,
    content: { kind: 'text', text: `{称呼}您好，第 ${position} 条`, image_url: '', title: '', description: '', url: '', thumb_url: '', file_url: '', file_name: '' },
    timing: { kind: 'day_offset', at: null, cron: null, day: position - 1, time: '10:00:00', anchor: 'friend_added' },
    window_start: '09:00:00',
    window_end: '21:00:00',
    missed: 'late',
    when_human: 'wait',
    stop_on_reply: false,
    stop_on_tags: [],
    ai_personalize: false,
    ai_instruction: '',
    ...overrides,
  }
}

export function sop(id: string, overrides: Partial<SopOut> = {}): SopOut {
  return {
    id,
    name: `SOP ${id}`,
    description: '',
    status: 'draft',
    status_reason: '',
    timezone: 'Asia/Shanghai',
    dynamic: false,
    end_at: null,
    targets: { account_ids: [], kinds: 'friends', tags: [], tag_mode: 'any', contact_ids: [] },
    steps: [step(1)],
    created_at: '2026-11-21T01:00:00Z',
    updated_at: '2026-11-21T01:00:00Z',
    started_at: null,
    finished_at: null,
    progress: null,
    ...overrides,
  }
}

export function envelope<D>(type: string, data: D, seq = 1) {
  return { seq, type, at: '2026-11-21T09:00:00Z', data }
}
