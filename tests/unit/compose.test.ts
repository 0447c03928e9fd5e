import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
// `yaml` comes with nuxt (unplugin-vue-router) and tailwind; no Docker engine is needed to read the file.
import { parse } from 'yaml'

interface Service { ports?: (string | { published?: string | number, host_ip?: string })[], environment?: Record<string, string>, profiles?: string[] }
const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as { services: Record<string, Service> }

/** The host address a short-syntax port mapping binds ("127.0.0.1:9090:9090" → 127.0.0.1; "9090:9090" → all). */
function hostIp(port: NonNullable<Service['ports']>[number]): string {
  if (typeof port === 'object') return port.host_ip ?? '0.0.0.0'
  const parts = String(port).split(':')
  return parts.length === 3 ? parts[0]! : '0.0.0.0'
}

describe('docker-compose.yml monitoring profile', () => {
  it.each(['prometheus', 'grafana'])('%s is in the monitoring profile and published on loopback only', (name) => {
    const svc = compose.services[name]!
    expect(svc.profiles).toEqual(['monitoring'])
    expect(svc.ports?.length ?? 0).toBeGreaterThan(0)
    for (const port of svc.ports ?? []) expect(hostIp(port), JSON.stringify(port)).toBe('127.0.0.1')
  })

  it('Grafana\'s admin password is required (no admin/admin default)', () => {
    const value = compose.services.grafana!.environment!.GF_SECURITY_ADMIN_PASSWORD
    expect(value).toMatch(/^\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}$/)
    expect(compose.services.grafana!.environment!.GF_USERS_ALLOW_SIGN_UP).toBe('false')
  })

  it('the README and .env.example name GRAFANA_ADMIN_PASSWORD', () => {
    expect(readFileSync('README.md', 'utf8')).toContain('GRAFANA_ADMIN_PASSWORD')
    expect(readFileSync('.env.example', 'utf8')).toContain('GRAFANA_ADMIN_PASSWORD')
  })
})
