/**
 * Model names come from key holders (the request) and from upstream answers: both untrusted.
 * A name is stored (usage buckets), logged and used as a metric label only once it has this
 * shape, so no caller can make Redis, logs or metrics hold an attacker-chosen blob.
 */
const MODEL_NAME_MAX = 100
const MODEL_NAME = /^[A-Za-z0-9][\w.:@/-]*$/

/** True for a plausible model id: ≤ 100 characters of letters, digits and `_ . : @ / -`. */
export const isModelName = (s: string): boolean => s.length <= MODEL_NAME_MAX && MODEL_NAME.test(s)

/** What a client is told when its model name is refused. */
export const MODEL_NAME_RULE = `model must be at most ${MODEL_NAME_MAX} characters of letters, digits and _ . : @ / -`
