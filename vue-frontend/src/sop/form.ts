/**
 * The editor's form and its translation to and from the API's SopIn / SopOut (pure functions, unit tested).
 *
 * Date-times are edited as wall times of the SOP's own time zone and sent with that zone's offset; send
 * windows and day-offset times are `HH:MM`. Each step sends only the fields of its content and timing kind,
 * so switching a step from link to text does not leave a hidden url behind.
 */
import type {
  Anchor,
  ContentKind,
  MissedPolicy,
  SopIn,
  SopOut,
  StepContent,
  StepIn,
  StepOut,
  StepTiming,
  TagMode,
  TargetKinds,
  TargetSpec,
  TimingKind,
  WhenHuman,
} from './api'
import { hhmm, isoToWall, isValidZone, wallToIso } from './format'

export const DEFAULT_ZONE = 'Asia/Shanghai'
export const MAX_STEPS = 30

export interface StepForm {
  /** Local identity for v-for and reordering (not sent). */
  key: string
  content: Required<StepContent>
  timing: {
    kind: TimingKind
    /** Wall time `YYYY-MM-DDTHH:mm:ss` in the SOP's zone. */
    at: string | null
    cron: string
    day: number
    /** `HH:MM` */
    time: string
    anchor: Anchor
  }
  windowEnabled: boolean
  window_start: string
  window_end: string
  missed: MissedPolicy
  when_human: WhenHuman
  stop_on_reply: boolean
  stop_on_tags: string[]
  ai_personalize: boolean
  ai_instruction: string
}

export interface SopForm {
  name: string
  description: string
  timezone: string
  dynamic: boolean
  /** Wall time in the SOP's zone, or null. */
  end_at: string | null
  /** `filter`: accounts, kinds and tags; `contacts`: picked friends or groups. */
  targetMode: 'filter' | 'contacts'
  targets: {
    account_ids: string[]
    kinds: TargetKinds
    tags: string[]
    tag_mode: TagMode
    contact_ids: string[]
  }
  steps: StepForm[]
}

let keySeq = 0
const nextKey = () => `step-${++keySeq}`

export function emptyContent(kind: ContentKind = 'text'): Required<StepContent> {
  return { kind, text: '', image_url: '', title: '', description: '', url: '', thumb_url: '', file_url: '', file_name: '' }
}

export function newStep(): StepForm {
  return {
    key: nextKey(),
    content: emptyContent(),
    timing: { kind: 'day_offset', at: null, cron: '0 10 * * 1', day: 0, time: '10:00', anchor: 'friend_added' },
    windowEnabled: true,
    window_start: '09:00',
    window_end: '21:00',
    missed: 'late',
    when_human: 'wait',
    stop_on_reply: false,
    stop_on_tags: [],
    ai_personalize: false,
    ai_instruction: '',
  }
}

export function newForm(): SopForm {
  return {
    name: '',
    description: '',
    timezone: DEFAULT_ZONE,
    dynamic: false,
    end_at: null,
    targetMode: 'filter',
    targets: { account_ids: [], kinds: 'friends', tags: [], tag_mode: 'any', contact_ids: [] },
    steps: [newStep()],
  }
}

/** A copy of a step with a new identity (the editor's "duplicate step"). */
export function cloneStep(step: StepForm): StepForm {
  return { ...JSON.parse(JSON.stringify(step)), key: nextKey() }
}

function contentIn(c: StepForm['content']): StepContent {
  switch (c.kind) {
    case 'image':
      return { kind: 'image', image_url: c.image_url.trim() }
    case 'link':
      return { kind: 'link', title: c.title.trim(), description: c.description.trim(), url: c.url.trim(), thumb_url: c.thumb_url.trim() }
    case 'file':
      return { kind: 'file', file_url: c.file_url.trim(), file_name: c.file_name.trim() }
    default:
      return { kind: 'text', text: c.text }
  }
}

function timingIn(t: StepForm['timing'], zone: string): StepTiming {
  switch (t.kind) {
    case 'at':
      return { kind: 'at', at: t.at ? wallToIso(t.at, zone) : null }
    case 'cron':
      return { kind: 'cron', cron: t.cron.trim().replace(/\s+/g, ' ') }
    default:
      return { kind: 'day_offset', day: t.day, time: hhmm(t.time), anchor: t.anchor }
  }
}

export function stepIn(step: StepForm, zone: string): StepIn {
  return {
    content: contentIn(step.content),
    timing: timingIn(step.timing, zone),
    window_start: step.windowEnabled ? hhmm(step.window_start) : null,
    window_end: step.windowEnabled ? hhmm(step.window_end) : null,
    missed: step.missed,
    when_human: step.when_human,
    stop_on_reply: step.stop_on_reply,
    stop_on_tags: [...step.stop_on_tags],
    ai_personalize: step.ai_personalize,
    ai_instruction: step.ai_personalize ? step.ai_instruction.trim() : '',
  }
}

export function targetsIn(form: SopForm): TargetSpec {
  const t = form.targets
  if (form.targetMode === 'contacts') {
    return { account_ids: [...t.account_ids], kinds: t.kinds, tags: [], tag_mode: 'any', contact_ids: [...t.contact_ids] }
  }
  return { account_ids: [...t.account_ids], kinds: t.kinds, tags: [...t.tags], tag_mode: t.tag_mode, contact_ids: [] }
}

/** The body of POST /api/sops and PUT /api/sops/{id}. */
export function buildSopIn(form: SopForm): SopIn {
  const zone = form.timezone.trim() || DEFAULT_ZONE
  return {
    name: form.name.trim(),
    description: form.description.trim(),
    timezone: zone,
    dynamic: form.dynamic,
    end_at: form.end_at ? wallToIso(form.end_at, zone) : null,
    targets: targetsIn(form),
    steps: form.steps.map((step) => stepIn(step, zone)),
  }
}

function stepForm(step: StepIn | StepOut, zone: string): StepForm {
  const blank = newStep()
  const timing = step.timing
  return {
    key: nextKey(),
    content: { ...emptyContent(step.content.kind), ...stripNulls(step.content) },
    timing: {
      kind: timing.kind,
      at: timing.kind === 'at' ? isoToWall(timing.at, zone) : null,
      cron: timing.cron ?? blank.timing.cron,
      day: timing.day ?? 0,
      time: hhmm(timing.time) || blank.timing.time,
      anchor: timing.anchor ?? 'friend_added',
    },
    windowEnabled: step.window_start != null && step.window_end != null,
    window_start: hhmm(step.window_start) || blank.window_start,
    window_end: hhmm(step.window_end) || blank.window_end,
    missed: step.missed,
    when_human: step.when_human,
    stop_on_reply: step.stop_on_reply,
    stop_on_tags: [...(step.stop_on_tags ?? [])],
    ai_personalize: step.ai_personalize,
    ai_instruction: step.ai_instruction ?? '',
  }
}

function stripNulls<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v != null)) as Partial<T>
}

/** The form of a stored SOP (editing), or of a copy of it (`copyName` given). */
export function formFromSop(sop: SopOut, copyName?: string): SopForm {
  const zone = sop.timezone || DEFAULT_ZONE
  const steps = [...sop.steps].sort((a, b) => a.position - b.position)
  return {
    name: copyName ?? sop.name,
    description: sop.description,
    timezone: zone,
    dynamic: sop.dynamic,
    end_at: isoToWall(sop.end_at, zone),
    targetMode: sop.targets.contact_ids.length ? 'contacts' : 'filter',
    targets: {
      account_ids: [...sop.targets.account_ids],
      kinds: sop.targets.kinds,
      tags: [...sop.targets.tags],
      tag_mode: sop.targets.tag_mode,
      contact_ids: [...sop.targets.contact_ids],
    },
    steps: steps.map((step) => stepForm(step, zone)),
  }
}

/** One problem of the form: an i18n key (of the SOP messages) with its parameters. */
export interface FormIssue {
  key: string
  params?: Record<string, unknown>
}

const CRON_FIELD = /^[\d*,\-/A-Za-z?]+$/

/** What the backend would refuse, found before sending (the backend stays the judge). */
export function validateForm(form: SopForm): FormIssue[] {
  const issues: FormIssue[] = []
  if (!form.name.trim()) issues.push({ key: 'errors.nameRequired' })
  if (!isValidZone(form.timezone.trim())) issues.push({ key: 'errors.timezone', params: { zone: form.timezone } })
  if (form.targetMode === 'contacts' && !form.targets.contact_ids.length) issues.push({ key: 'errors.contactsRequired' })
  if (!form.steps.length) issues.push({ key: 'errors.stepsRequired' })
  if (form.steps.length > MAX_STEPS) issues.push({ key: 'errors.tooManySteps', params: { n: MAX_STEPS } })
  form.steps.forEach((step, i) => {
    const n = i + 1
    const c = step.content
    const missing =
      c.kind === 'text' ? !c.text.trim()
      : c.kind === 'image' ? !c.image_url.trim()
      : c.kind === 'link' ? !c.title.trim() || !c.url.trim()
      : !c.file_url.trim() || !c.file_name.trim()
    if (missing) issues.push({ key: `errors.content.${c.kind}`, params: { n } })
    const t = step.timing
    if (t.kind === 'at' && !t.at) issues.push({ key: 'errors.atRequired', params: { n } })
    if (t.kind === 'cron') {
      const fields = t.cron.trim().split(/\s+/)
      if (fields.length !== 5 || !fields.every((f) => CRON_FIELD.test(f))) issues.push({ key: 'errors.cron', params: { n } })
    }
    if (t.kind === 'day_offset' && (t.day == null || t.day < 0 || t.day > 365 || !t.time)) issues.push({ key: 'errors.dayOffset', params: { n } })
    if (step.windowEnabled) {
      if (!step.window_start || !step.window_end) issues.push({ key: 'errors.windowBoth', params: { n } })
      else if (hhmm(step.window_start) === hhmm(step.window_end)) issues.push({ key: 'errors.windowEmpty', params: { n } })
    }
  })
  return issues
}

/** Insert `text` into `value` at the caret (`start`..`end`), returning the new value and caret. */
export function insertAt(value: string, text: string, start?: number | null, end?: number | null): { value: string; caret: number } {
  const from = start == null ? value.length : Math.max(0, Math.min(start, value.length))
  const to = end == null ? from : Math.max(from, Math.min(end, value.length))
  return { value: value.slice(0, from) + text + value.slice(to), caret: from + text.length }
}

/** Move the item at `index` by `delta` places (no-op at the ends). */
export function move<T>(list: T[], index: number, delta: number): void {
  const to = index + delta
  if (to < 0 || to >= list.length) return
  const [item] = list.splice(index, 1)
  list.splice(to, 0, item)
}
