import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { inlineScriptHashes, pagePolicy } from '../../server/system/security-headers'

const sha = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`

describe('inlineScriptHashes', () => {
  it.each<[string, string, string[]]>([
    ['a plain inline script', '<script>a()</script>', [sha('a()')]],
    ['a module script', '<script type="module">b()</script>', [sha('b()')]],
    ['text/javascript', '<script type=\'text/javascript\'>c()</script>', [sha('c()')]],
    ['a script with src has no body to hash', '<script type="module" src="/_nuxt/x.js" crossorigin></script>', []],
    ['a JSON data block does not run', '<script type="application/json" id="__NUXT_DATA__">[1]</script>', []],
    ['a data-type attribute is not a type', '<script data-type="x">d()</script>', [sha('d()')]],
    ['several, in page order', '<head><script>x=1</script></head><body><script>y=2</script></body>', [sha('x=1'), sha('y=2')]],
  ])('%s', (_label, html, expected) => {
    expect(inlineScriptHashes(html)).toEqual(expected)
  })
})

describe('pagePolicy', () => {
  it('allows only its own scripts and the page\'s inline ones by hash, and no framing', () => {
    const policy = pagePolicy('<script>theme()</script><script type="module" src="/_nuxt/e.js"></script>')
    const directives = Object.fromEntries(policy.split(/;\s*/).map(d => [d.split(' ')[0], d.split(' ').slice(1)]))
    expect(directives['script-src']).toEqual(['\'self\'', sha('theme()')])
    expect(directives['frame-ancestors']).toEqual(['\'none\''])
    expect(directives['object-src']).toEqual(['\'none\''])
    expect(directives['default-src']).toEqual(['\'self\''])
    expect(policy).not.toMatch(/script-src[^;]*unsafe-(inline|eval)/)
  })
})
