/**
 * Crash points for fault tests (RELIABILITY.md H2): a named spot inside a multi-row transaction
 * where a test may have the process SIGKILL itself (T04). A no-op unless `crashAt` names it;
 * the command line fills `crashAt` from `FAULT_CRASH_AT`.
 */

/** Fault injection options. */
export interface Faults {
  /** `name` or `name,hitCount`: die at the hitCount-th (default first) hit of that point. */
  crashAt?: string;
}

const hits = new Map<string, number>();

/** Dies with SIGKILL here when `faults.crashAt` names this point. */
export function crashPoint(faults: Faults | undefined, name: string): void {
  const spec = faults?.crashAt;
  if (spec === undefined) return;
  const [point, count] = spec.split(",");
  if (point !== name) return;
  const n = (hits.get(name) ?? 0) + 1;
  hits.set(name, n);
  if (n >= Number(count ?? "1")) process.kill(process.pid, "SIGKILL");
}
