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

  it('words known codes in the console language, not the backend message', () => {
    expect(loginErrorMessage(new ApiError(401, 'invalid_credentials', 'wrong username or password'))).toBe(
      '用户名或密码错误',
    )
    expect(loginErrorMessage(new ApiError(403, 'user_disabled', 'this account is disabled'))).toBe(
      '该账号已被停用，请联系管理员',
    )
  })

  it('shows the backend message for other errors', () => {
    expect(loginErrorMessage(new ApiError(503, 'service_unavailable', '服务暂不可用'))).toBe('服务暂不可用')
  })
})
