import { expect, it } from 'vitest'
import { createOpenApiDocument } from '../../server/openapi'
import { startedServer } from '../helpers/server'

const server = startedServer()

it('serves the OpenAPI document without a login, as JSON, the same the code builds', async () => {
  const res = await fetch(`${server.url}/api/openapi.json`)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^application\/json/)
  const body = await res.json() as { openapi: string, paths: Record<string, unknown> }
  expect(body.openapi).toMatch(/^3\.1\./)
  // The bundle builds the very document the unit tests check (nothing lost to bundling).
  expect(body).toEqual(JSON.parse(JSON.stringify(createOpenApiDocument())))
  // Built once per process: a second answer is the same.
  expect(await (await fetch(`${server.url}/api/openapi.json`)).json()).toEqual(body)
})
