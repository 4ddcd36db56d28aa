/** What the changes column shows of an audit event's detail. */

export interface Change {
  field: string
  before?: string
  after?: string
}

function show(value: unknown): string {
  if (value === null || value === undefined || value === '') return '—'
  if (typeof value === 'string') return value
  return JSON.stringify(value)
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * The fields an event changed: `before → after` for updates, the new values for creations, the old ones for
 * deletions; other details (`{reason: ...}`) as they are.
 */
export function changesOf(detail: Record<string, unknown>): Change[] {
  const before = isRecord(detail.before) ? detail.before : null
  const after = isRecord(detail.after) ? detail.after : null
  if (!before && !after) {
    return Object.entries(detail).map(([field, value]) => ({ field, after: show(value) }))
  }
  const fields = [...new Set([...Object.keys(after ?? {}), ...Object.keys(before ?? {})])]
  return fields.map((field) => ({
    field,
    before: before && field in before ? show(before[field]) : undefined,
    after: after && field in after ? show(after[field]) : undefined,
  }))
}
