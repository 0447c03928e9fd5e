import { describe, expect, it } from 'vitest'
import { serverNodeFlags } from '../../scripts/server-flags.mjs'

describe('the Node flags the server runs with (npm start, the Docker image, the benchmarks)', () => {
  it('caps the young generation at 8 MB semi-spaces by default', () => {
    expect(serverNodeFlags({})).toEqual(['--max-semi-space-size=8'])
    expect(serverNodeFlags({ NODE_OPTIONS: '--max-old-space-size=512' })).toEqual(['--max-semi-space-size=8'])
  })

  it('leaves the choice to NODE_OPTIONS when it sets the semi-space itself (a command-line flag would override it)', () => {
    expect(serverNodeFlags({ NODE_OPTIONS: '--max-old-space-size=512 --max-semi-space-size=32' })).toEqual([])
  })
})
