import { createHash } from 'node:crypto'

/**
 * Headers on every response (console pages, static assets, API answers): no MIME sniffing (a JSON
 * answer holding user text must never run as a script or page), no Referer leaving the site, and
 * a policy that lets nothing run and no one frame it. HTML pages get `pagePolicy` instead.
 */
export const BASE_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy': 'default-src \'none\'; frame-ancestors \'none\'; base-uri \'none\'; form-action \'none\'',
} as const

// Inline <script> elements that run: no src, and no type or a JavaScript one (JSON data blocks
// such as __NUXT_DATA__ do not run and need no hash).
const INLINE_SCRIPT = /<script\b([^>]*)>([\s\S]*?)<\/script>/gi
const JS_TYPES = new Set(['', 'module', 'text/javascript', 'application/javascript'])
function runs(attrs: string): boolean {
  if (/(?:^|\s)src\s*=/i.test(attrs)) return false
  const type = /(?:^|\s)type\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]*))/i.exec(attrs)
  return JS_TYPES.has((type?.[1] ?? type?.[2] ?? type?.[3] ?? '').trim().toLowerCase())
}

/** sha256 source expressions of the inline scripts that run in `html`, in page order. */
export function inlineScriptHashes(html: string): string[] {
  const out: string[] = []
  for (const [, attrs = '', body = ''] of html.matchAll(INLINE_SCRIPT)) {
    if (runs(attrs)) out.push(`'sha256-${createHash('sha256').update(body, 'utf8').digest('base64')}'`)
  }
  return out
}

/**
 * The console's policy: its own scripts, plus exactly the inline ones this page carries (the
 * theme script in the head and Nuxt's config) by hash — no 'unsafe-inline' for scripts. Styles
 * allow inline: Nuxt inlines the Tailwind CSS into the page and Vue sets style attributes, and an
 * injected style cannot run code. Data and SSE go to the same origin only; nothing may frame it.
 */
export function pagePolicy(html: string): string {
  return [
    'default-src \'self\'',
    `script-src 'self' ${inlineScriptHashes(html).join(' ')}`.trim(),
    'style-src \'self\' \'unsafe-inline\'',
    'img-src \'self\' data:',
    'font-src \'self\' data:',
    'connect-src \'self\'',
    'object-src \'none\'',
    'base-uri \'none\'',
    'form-action \'self\'',
    'frame-ancestors \'none\'',
  ].join('; ')
}
