import type { Reporter, TestModule } from 'vitest/node'

/** Prints "N passed, N failed, N skipped" as the last line: the form this workplace's CI reads. */
export default class SummaryLine implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const count = { passed: 0, failed: 0, skipped: 0 }
    for (const m of modules) {
      if (m.state() === 'failed' && [...m.children.allTests()].length === 0) count.failed++
      for (const t of m.children.allTests()) {
        const s = t.result().state
        if (s === 'passed') count.passed++
        else if (s === 'failed') count.failed++
        else count.skipped++
      }
    }
    console.log(`\n${count.passed} passed, ${count.failed} failed, ${count.skipped} skipped`)
  }
}
