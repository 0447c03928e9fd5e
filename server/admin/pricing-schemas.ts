import { z } from 'zod'

/** Route param `:model` (the catch-all, so ids with `/` work too). */
export const PricingModelParamsSchema = z.object({
  model: z.string()
    .min(1, 'is required')
    .max(200, 'must be at most 200 characters')
    .regex(/^[A-Za-z0-9._:/@-]+$/, 'may contain only letters, digits and . _ : / @ -'),
})

// USD per token, as LiteLLM writes them; the cap catches a price typed per million tokens.
// (validate() prefixes each message with the field's name.)
const usdPerToken = () => z.number({ error: 'must be a number (USD per token)' })
  .min(0, 'must be 0 or more')
  .max(0.01, 'is USD per token (3e-6 is $3 per million tokens)')
  .optional()

/** PUT body: LiteLLM price fields (at least one); a model not in the shipped table also needs input and output. */
export const PriceOverrideSchema = z.object({
  input_cost_per_token: usdPerToken(),
  output_cost_per_token: usdPerToken(),
  cache_creation_input_token_cost: usdPerToken(),
  cache_creation_input_token_cost_above_1hr: usdPerToken(),
  cache_read_input_token_cost: usdPerToken(),
  input_cost_per_token_above_200k_tokens: usdPerToken(),
  output_cost_per_token_above_200k_tokens: usdPerToken(),
  cache_creation_input_token_cost_above_200k_tokens: usdPerToken(),
  cache_creation_input_token_cost_above_1hr_above_200k_tokens: usdPerToken(),
  cache_read_input_token_cost_above_200k_tokens: usdPerToken(),
}).strict().refine(b => Object.keys(b).length > 0, 'give at least one price field, e.g. input_cost_per_token')

export const PricingListQuerySchema = z.object({ q: z.string().trim().max(200).optional() })
