import { ApiError } from '@/common/http'
import { errorMessage } from '@/common/feedback'
import { t } from '@/common/i18n'

/** Message shown under the login form for a failed login. */
export function loginErrorMessage(err: unknown): string {
  if (err instanceof ApiError && err.code === 'too_many_attempts') {
    const secs = err.retryAfter
    if (secs === null) return t('auth.tooManyAttempts')
    if (secs < 60) return t('auth.tooManyAttemptsSeconds', { n: Math.max(1, secs) })
    return t('auth.tooManyAttemptsMinutes', { n: Math.ceil(secs / 60) })
  }
  // Known codes get the console's own wording, so the message follows the chosen language.
  if (err instanceof ApiError && err.code === 'invalid_credentials') return t('auth.invalidCredentials')
  if (err instanceof ApiError && err.code === 'user_disabled') return t('auth.userDisabled')
  return errorMessage(err)
}
