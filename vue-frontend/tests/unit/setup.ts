import { afterEach } from 'vitest'
import { setAuthHooks } from '@/common/http'
import { setSocketFactory } from '@/realtime/socket'
import { i18n } from '@/common/i18n'

afterEach(() => {
  localStorage.clear()
  setAuthHooks(null)
  setSocketFactory(null)
  i18n.global.locale.value = 'zh-CN'
})
