import { createError, type H3Error } from 'h3'
import type { z } from 'zod'

/** One invalid part of a request: its path (`name`, `tags.0`; '' for the body as a whole) and what is wrong. */
export interface FieldError { field: string, message: string }

/** The body of an admin 400: h3's error JSON, whose `data.fields` lists each invalid field. */
export interface ValidationErrorBody { statusCode: 400, message: string, data: { fields: FieldError[] } }

/** The one-line message of field errors ("name: name is required; priority: …"), for people and logs. */
export const fieldErrorsText = (fields: readonly FieldError[]) => fields.map(f => `${f.field || 'body'}: ${f.message}`).join('; ')

/**
 * A failed validation. h3's `readValidatedBody` & co. answer it with 400, `message` = the one-line
 * text and `data` = this error's JSON, `{ fields }`: clients map fields, never parse the text.
 */
export class ValidationError extends Error {
  constructor(readonly fields: FieldError[]) {
    super(fieldErrorsText(fields))
    this.name = 'ValidationError'
  }

  toJSON(): { fields: FieldError[] } {
    return { fields: this.fields }
  }
}

/** A 400 for fields found invalid after schema validation (rules over stored state), in the same shape. */
export function invalidFields(fields: FieldError[]): H3Error {
  const err = new ValidationError(fields)
  return createError({ statusCode: 400, statusMessage: 'Validation Error', message: err.message, data: err.toJSON() })
}

/** Zod issues as field errors (the path joined with dots). */
export const fieldErrorsOf = (issues: readonly z.core.$ZodIssue[]): FieldError[] =>
  issues.map(i => ({ field: i.path.map(String).join('.'), message: i.message }))

/**
 * A validator for h3's readValidatedBody/getValidatedQuery/getValidatedRouterParams that fails
 * with a ValidationError naming each bad field.
 */
export function validate<S extends z.ZodType>(schema: S) {
  return (data: unknown): z.output<S> => {
    const r = schema.safeParse(data)
    if (r.success) return r.data
    throw new ValidationError(fieldErrorsOf(r.error.issues))
  }
}
