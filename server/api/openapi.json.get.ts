import { useOpenApiDocument } from '../openapi'

// The OpenAPI 3.1 document of the client and admin APIs. Public: it holds shapes, never data
// (docs/architecture.md "OpenAPI document").
export default defineEventHandler(() => useOpenApiDocument())
