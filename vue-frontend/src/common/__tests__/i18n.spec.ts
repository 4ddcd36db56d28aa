import { describe, expect, it } from 'vitest'
import zhCN from '@/common/locales/zh-CN'
import en from '@/common/locales/en'
import { i18n, setLocale } from '@/common/i18n'

function keys(obj: object, prefix = ''): string[] {
  return Object.entries(obj).flatMap(([k, v]) =>
    v && typeof v === 'object' ? keys(v, `${prefix}${k}.`) : [`${prefix}${k}`],
  )
}

describe('i18n', () => {
  it('zh-CN and en have the same message keys', () => {
    expect(keys(en).sort()).toEqual(keys(zhCN).sort())
  })

  it('defaults to Chinese and switches to English, remembering the choice', () => {
    expect(i18n.global.t('auth.submit')).toBe('登录')
    setLocale('en')
    expect(i18n.global.t('auth.submit')).toBe('Log in')
    expect(localStorage.getItem('salesbot.locale')).toBe('en')
  })

  it('labels the roles in Chinese', () => {
    expect(['admin', 'manager', 'sales', 'finance'].map((r) => i18n.global.t(`roles.${r}`))).toEqual([
      '管理员',
      '经理',
      '销售',
      '财务',
    ])
  })
})
