import { ElMessage } from 'element-plus'
import 'element-plus/es/components/message/style/css'
import { ApiError } from './http'
import { t } from './i18n'

/** Text to show for any error: the backend's `error.message` when there is one. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === 'network_error') return t('common.networkError')
    return err.message || t('common.unknownError')
  }
  if (err instanceof Error && err.message) return err.message
  return t('common.unknownError')
}

export function notifyError(err: unknown): void {
  ElMessage.error({ message: errorMessage(err), grouping: true })
}

export function notifySuccess(message: string): void {
  ElMessage.success({ message, grouping: true })
}
