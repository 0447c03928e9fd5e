import { accessSync, constants, mkdirSync, realpathSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

// Kernel file systems accept some writes and block or spin on others: never a place for our files.
const KERNEL_FS = /^\/(proc|sys)(\/|$)/

function reasonOf(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ENOTDIR' || code === 'EEXIST') return 'is not a directory (a file is in the way)'
  if (code === 'EACCES' || code === 'EPERM') return 'is not writable (permission denied)'
  if (code === 'EROFS') return 'is on a read-only file system'
  return `cannot be used (${code ?? (err as Error).message})`
}

/**
 * Why `dir` cannot hold files the relay writes, or null when it can: it is created when missing,
 * must be a directory, writable (a probe file is written and removed), and not under /proc or /sys.
 */
export function unusableDir(dir: string): string | null {
  const abs = resolve(dir)
  if (KERNEL_FS.test(abs)) return `${abs} is under a kernel file system (/proc, /sys)`
  try {
    mkdirSync(abs, { recursive: true })
    const real = realpathSync(abs)
    if (KERNEL_FS.test(real)) return `${abs} leads to ${real}, under a kernel file system (/proc, /sys)`
    if (!statSync(real).isDirectory()) return `${abs} is not a directory`
    accessSync(real, constants.W_OK)
    const probe = join(real, `.crs-write-test-${process.pid}`)
    writeFileSync(probe, '')
    unlinkSync(probe)
    return null
  }
  catch (err) {
    return `${abs} ${reasonOf(err)}`
  }
}
