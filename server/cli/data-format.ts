import { createHmac } from 'node:crypto'
import { z } from 'zod'
import { CliError } from './args'

/** Marks a file as ours; `version` changes whenever a reader of the old format would misread the new one. */
export const DATA_FORMAT = 'claude-relay-service/data'
export const DATA_VERSION = 1

const hash = z.record(z.string(), z.string())

const UsageEntrySchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('string'), key: z.string(), value: z.string(), ttlMs: z.number().nullable() }),
  z.object({ type: z.literal('hash'), key: z.string(), value: hash, ttlMs: z.number().nullable() }),
  z.object({ type: z.literal('set'), key: z.string(), value: z.array(z.string()), ttlMs: z.number().nullable() }),
  z.object({ type: z.literal('list'), key: z.string(), value: z.array(z.string()), ttlMs: z.number().nullable() }),
  z.object({ type: z.literal('zset'), key: z.string(), value: z.array(z.tuple([z.string(), z.number()])), ttlMs: z.number().nullable() }),
])

// Every record carries its own id (the servers read it from the hash): it must name the same record.
const sameId = (e: { id: string, record: Record<string, string> }) => e.record.id === e.id
const SAME_ID = { message: 'record.id must equal id' }

/**
 * Version 1. Records are the Redis hashes as stored (field → string), so a round trip is exact;
 * key names are without REDIS_KEY_PREFIX, so a file moves between prefixes.
 */
export const DataFileSchema = z.object({
  format: z.literal(DATA_FORMAT),
  version: z.literal(DATA_VERSION),
  exportedAt: z.string(),
  /** `plaintext`: account secrets were decrypted (--decrypt); import encrypts them with its own key. */
  secrets: z.enum(['encrypted', 'plaintext']),
  /** HMACs identifying the ENCRYPTION_KEY and API_KEY_SALT the data was made with (never the secrets). */
  fingerprints: z.object({ encryptionKey: z.string(), apiKeySalt: z.string() }),
  apiKeys: z.array(z.object({ id: z.string().min(1), record: hash, indexScore: z.number().nullable(), search: z.string().nullable() }).refine(sameId, SAME_ID)),
  accounts: z.array(z.object({ platform: z.enum(['claude', 'gemini']), id: z.string().min(1), record: hash, state: z.string().nullable(), window: z.string().nullable() }).refine(sameId, SAME_ID)),
  admins: z.array(z.object({ id: z.string().min(1), record: hash }).refine(sameId, SAME_ID)),
  pricingOverrides: hash,
  lastUsed: hash,
  usage: z.array(UsageEntrySchema),
  /**
   * Keys imported from claude-relay-service and not used here yet: their CRS hashes and the CRS
   * secret (as stored, or plaintext with --decrypt). Absent in files from before the CRS import.
   */
  legacyKeys: z.object({ secret: z.string(), hashes: hash }).nullable().optional(),
})

export type DataFile = z.infer<typeof DataFileSchema>

/** The secrets data is sealed and hashed with. */
export interface Secrets { encryptionKey: string, apiKeySalt: string }
export type UsageEntry = z.infer<typeof UsageEntrySchema>

/** A short public fingerprint of a secret: tells whether two installations share it, reveals nothing of it. */
export const fingerprint = (secret: string) => createHmac('sha256', secret).update('crs-data-fingerprint').digest('hex').slice(0, 16)

/** Parse and check a data file; refuses other formats and other versions with a message saying which. */
export function parseDataFile(text: string, source: string): DataFile {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  }
  catch (err) {
    throw new CliError(`${source} is not JSON: ${(err as Error).message}`)
  }
  const head = (raw ?? {}) as { format?: unknown, version?: unknown }
  if (head.format !== DATA_FORMAT) throw new CliError(`${source} is not a Claude Relay Service data file (expected "format": "${DATA_FORMAT}")`)
  if (head.version !== DATA_VERSION) throw new CliError(`${source} has format version ${JSON.stringify(head.version)}; this tool reads version ${DATA_VERSION} only (use the release that wrote it)`)
  const parsed = DataFileSchema.safeParse(raw)
  if (!parsed.success) {
    throw new CliError(`${source} is damaged: ${parsed.error.issues.slice(0, 5).map(i => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
  }
  return parsed.data
}
