import { describe, expect, it } from 'vitest'
import { buildSopIn, formFromSop, insertAt, move, newForm, newStep, validateForm } from '@/sop/form'
import { sop, step } from './fixtures'

describe('sop editor form', () => {
  it('builds a day_offset step with a send window into a valid SopIn', () => {
    const form = newForm()
    form.name = '  新客 7 天培育 '
    form.targets = { account_ids: ['acc-1'], kinds: 'friends', tags: ['意向客户', '新客'], tag_mode: 'all', contact_ids: ['ignored'] }
    const s = form.steps[0]
    s.content.text = '{称呼}您好，欢迎光临'
    s.timing = { ...s.timing, kind: 'day_offset', day: 3, time: '10:30', anchor: 'friend_added' }
    s.windowEnabled = true
    s.window_start = '09:00'
    s.window_end = '21:00'
    s.missed = 'next_window'
    s.when_human = 'skip'
    s.stop_on_reply = true
    s.stop_on_tags = ['已成交']

    expect(validateForm(form)).toEqual([])
    expect(buildSopIn(form)).toEqual({
      name: '新客 7 天培育',
      description: '',
      timezone: 'Asia/Shanghai',
      dynamic: false,
      end_at: null,
      targets: { account_ids: ['acc-1'], kinds: 'friends', tags: ['意向客户', '新客'], tag_mode: 'all', contact_ids: [] },
      steps: [
        {
          content: { kind: 'text', text: '{称呼}您好，欢迎光临' },
          timing: { kind: 'day_offset', day: 3, time: '10:30', anchor: 'friend_added' },
          window_start: '09:00',
          window_end: '21:00',
          missed: 'next_window',
          when_human: 'skip',
          stop_on_reply: true,
          stop_on_tags: ['已成交'],
          ai_personalize: false,
          ai_instruction: '',
        },
      ],
    })
  })

  it('sends fixed times and the end time with the offset of the SOP time zone', () => {
    const form = newForm()
    form.name = 'x'
    form.timezone = 'Asia/Tokyo'
    form.end_at = '2026-12-31T23:00:00'
    form.steps[0].content.text = 'hi'
    form.steps[0].timing.kind = 'at'
    form.steps[0].timing.at = '2026-12-01T10:00:00'
    form.steps[0].windowEnabled = false
    const body = buildSopIn(form)
    expect(body.end_at).toBe('2026-12-31T23:00:00+09:00')
    expect(body.steps[0].timing).toEqual({ kind: 'at', at: '2026-12-01T10:00:00+09:00' })
    expect(body.steps[0]).toMatchObject({ window_start: null, window_end: null })
  })

  it('sends only the fields of the chosen content kind', () => {
    const form = newForm()
    form.name = 'x'
    const s = form.steps[0]
    s.content.text = 'left over from the text kind'
    s.content.kind = 'link'
    s.content.title = '双十一活动'
    s.content.url = 'https://example.com/a'
    expect(buildSopIn(form).steps[0].content).toEqual({ kind: 'link', title: '双十一活动', description: '', url: 'https://example.com/a', thumb_url: '' })
  })

  it('sends picked contacts without the tag filter', () => {
    const form = newForm()
    form.name = 'x'
    form.steps[0].content.text = 'hi'
    form.targetMode = 'contacts'
    form.targets = { account_ids: [], kinds: 'all', tags: ['VIP'], tag_mode: 'all', contact_ids: ['c-1', 'c-2'] }
    expect(buildSopIn(form).targets).toEqual({ account_ids: [], kinds: 'all', tags: [], tag_mode: 'any', contact_ids: ['c-1', 'c-2'] })
  })

  it('turns a stored SOP back into the same SopIn', () => {
    const stored = sop('s-1', {
      timezone: 'Asia/Shanghai',
      end_at: '2026-12-31T15:00:00Z',
      targets: { account_ids: ['acc-1'], kinds: 'groups', tags: ['VIP'], tag_mode: 'any', contact_ids: [] },
      steps: [
        step(2, { timing: { kind: 'cron', cron: '0 10 * * 1', at: null, day: null, time: null, anchor: 'friend_added' }, window_start: null, window_end: null }),
        step(1, { timing: { kind: 'at', at: '2026-12-01T02:00:00Z', cron: null, day: null, time: null, anchor: 'friend_added' } }),
      ],
    })
    const form = formFromSop(stored)
    expect(form.end_at).toBe('2026-12-31T23:00:00')
    const body = buildSopIn(form)
    expect(body.end_at).toBe('2026-12-31T23:00:00+08:00')
    expect(body.steps.map((s) => s.timing)).toEqual([
      { kind: 'at', at: '2026-12-01T10:00:00+08:00' },
      { kind: 'cron', cron: '0 10 * * 1' },
    ])
    expect(body.steps[0]).toMatchObject({ window_start: '09:00', window_end: '21:00' })
    expect(body.steps[1]).toMatchObject({ window_start: null, window_end: null })
  })

  it('reports what the backend would refuse before sending', () => {
    const form = newForm()
    form.steps = [newStep(), newStep()]
    form.steps[0].content.kind = 'link'
    form.steps[0].content.title = '标题'
    form.steps[1].content.text = 'hi'
    form.steps[1].timing.kind = 'cron'
    form.steps[1].timing.cron = '0 10 * *'
    form.steps[1].window_start = '10:00'
    form.steps[1].window_end = '10:00'
    expect(validateForm(form).map((issue) => issue.key)).toEqual(['errors.nameRequired', 'errors.content.link', 'errors.cron', 'errors.windowEmpty'])
  })

  it('inserts a template variable at the caret', () => {
    expect(insertAt('您好，欢迎', '{称呼}', 2, 2)).toEqual({ value: '您好{称呼}，欢迎', caret: 6 })
    expect(insertAt('您好', '{昵称}')).toEqual({ value: '您好{昵称}', caret: 6 })
  })

  it('moves a step up and down, not past the ends', () => {
    const list = ['a', 'b', 'c']
    move(list, 2, -1)
    expect(list).toEqual(['a', 'c', 'b'])
    move(list, 0, -1)
    expect(list).toEqual(['a', 'c', 'b'])
  })
})
