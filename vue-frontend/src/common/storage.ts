/** localStorage wrapper; every key is prefixed with `salesbot.`. */

export const STORAGE_PREFIX = 'salesbot.'

function store(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage
  } catch {
    return null
  }
}

export function readItem(key: string): string | null {
  return store()?.getItem(STORAGE_PREFIX + key) ?? null
}

export function writeItem(key: string, value: string | null): void {
  const s = store()
  if (!s) return
  if (value === null) s.removeItem(STORAGE_PREFIX + key)
  else s.setItem(STORAGE_PREFIX + key, value)
}

export function readJson<T>(key: string): T | null {
  const raw = readItem(key)
  if (raw === null) return null
  try {
    return JSON.parse(raw) as T
  } catch {
    return null
  }
}

export function writeJson(key: string, value: unknown): void {
  writeItem(key, value === null || value === undefined ? null : JSON.stringify(value))
}
