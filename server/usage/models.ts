import prices from './model-prices.json'

/** The shipped price table's model ids that start with `prefix` (`claude-`, `gemini-`), newest names first. */
export function pricedModels(prefix: string): string[] {
  return Object.keys(prices).filter(id => id.startsWith(prefix)).sort().reverse()
}

/**
 * Anthropic-shaped model list built from the shipped price table (Claude models only);
 * `allowed` keeps the ids a key may use.
 */
export function claudeModelList(allowed: (id: string) => boolean = () => true) {
  const ids = pricedModels('claude-').filter(allowed)
  return {
    data: ids.map(id => ({ type: 'model', id, display_name: id, created_at: '1970-01-01T00:00:00Z' })),
    has_more: false,
    first_id: ids[0] ?? null,
    last_id: ids.at(-1) ?? null,
  }
}
