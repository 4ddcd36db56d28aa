import { createI18n } from 'vue-i18n'
import zhCN, { type MessageSchema } from './locales/zh-CN'
import en from './locales/en'
import { readItem, writeItem } from './storage'

export const LOCALES = ['zh-CN', 'en'] as const
export type Locale = (typeof LOCALES)[number]
export const DEFAULT_LOCALE: Locale = 'zh-CN'

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value)
}

export function storedLocale(): Locale {
  const saved = readItem('locale')
  return isLocale(saved) ? saved : DEFAULT_LOCALE
}

export function createAppI18n(locale: Locale = storedLocale()) {
  return createI18n<[MessageSchema], Locale, false>({
    legacy: false,
    locale,
    fallbackLocale: DEFAULT_LOCALE,
    messages: { 'zh-CN': zhCN, en },
  })
}

export type AppI18n = ReturnType<typeof createAppI18n>

export const i18n: AppI18n = createAppI18n()

/** Switch the UI language; remembered in localStorage (`salesbot.locale`). */
export function setLocale(locale: Locale, target: AppI18n = i18n): void {
  target.global.locale.value = locale
  writeItem('locale', locale)
  if (typeof document !== 'undefined') document.documentElement.lang = locale
}

/** Translate outside components (stores, router, http helpers). */
export function t(key: string, params?: Record<string, unknown>): string {
  return params ? i18n.global.t(key, params) : i18n.global.t(key)
}
