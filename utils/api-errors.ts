// What a failed admin call carried, read from $fetch's error (no Nuxt imports: unit-tested with
// plain vitest). Validation errors arrive structured (server/admin/validation.ts): the forms map
// them to their fields and never parse the message text.

import type { FieldError } from '~~/server/admin/validation'

export type { FieldError }

interface FetchErrorLike {
  data?: { message?: string, error?: { message?: string }, data?: { fields?: unknown } }
  message?: string
}

/** The message a failed admin call carried (h3 errors put it in `message`). */
export function errorMessage(err: unknown): string {
  const e = err as FetchErrorLike | null
  return e?.data?.message || e?.data?.error?.message || e?.message || 'Request failed'
}

const isFieldError = (f: unknown): f is FieldError =>
  !!f && typeof (f as FieldError).field === 'string' && typeof (f as FieldError).message === 'string'

/** The structured field errors of a failed call (h3 puts them in the body's `data.fields`); [] when it had none. */
export function fieldErrorsOf(err: unknown): FieldError[] {
  const fields = (err as FetchErrorLike | null)?.data?.data?.fields
  return Array.isArray(fields) ? fields.filter(isFieldError) : []
}

/** A form's view of a failed call: messages beside its fields, and the rest for above the buttons. */
export interface FormErrors { fields: Record<string, string>, rest: string }

/**
 * Field errors by form field: a path's first segment names the field (`tags.0` → tags), several
 * errors of one field are joined. Errors of fields not in `known` (and of the body as a whole) go
 * to `rest` with their path; a call that failed without field errors gives its message as `rest`.
 */
export function formErrors(err: unknown, known: readonly string[]): FormErrors {
  const list = fieldErrorsOf(err)
  if (!list.length) return { fields: {}, rest: errorMessage(err) }
  const fields: Record<string, string> = {}
  const rest: string[] = []
  for (const { field, message } of list) {
    const name = field.split('.')[0]!
    if (name && known.includes(name)) fields[name] = fields[name] ? `${fields[name]}; ${message}` : message
    else rest.push(field ? `${field}: ${message}` : message)
  }
  return { fields, rest: rest.join('; ') }
}
