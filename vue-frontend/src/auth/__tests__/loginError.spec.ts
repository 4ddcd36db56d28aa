import { describe, expect, it } from 'vitest'
import { ApiError } from '@/common/http'
import { loginErrorMessage } from '@/auth/loginError'

describe('loginErrorMessage', () => {
  it('turns a 429 with Retry-After of 120 s into minutes', () => {
    expect(loginErrorMessage(new ApiError(429, 'too_many_attempts', 'Too many attempts', 120))).toBe(
      '登录尝试次数过多，请在 2 分钟后重试',
    )
  })

  it('keeps seconds when Retry-After is under a minute', () => {
    expect(loginErrorMessage(new ApiError(429, 'too_many_attempts', 'Too many attempts', 42))).toBe(
      '登录尝试次数过多，请在 42 秒后重试',
    )
  })

  it('shows the backend message for other errors', () => {
    expect(loginErrorMessage(new ApiError(403, 'user_disabled', '账号已停用'))).toBe('账号已停用')
  })
})
