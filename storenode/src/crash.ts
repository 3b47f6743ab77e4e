/**
 * Crash points (RELIABILITY.md H2). Each is a named place in a durability-critical sequence
 * where a test may kill the process with SIGKILL, to show that nothing acknowledged is lost and
 * nothing half-done becomes visible. They are no-ops unless the command line passes the value of
 * `FAULT_CRASH_AT=name[,hitCount]` down as `crashAt`.
 */
import { CairnError } from "@cairn/protocol";

/** Every crash point the node has, in the order a block or version passes them. */
export const CRASH_POINTS = [
  // block writes (T01): write temp pack → fsync → rename → fsync dir → index commit → ack
  "put.beforeFsync",
  "put.afterFsyncBeforeRename",
  "put.afterRenameBeforeDirFsync",
  "put.afterIndexCommitBeforeAck",
  // version commit (T02): the versions row is the single commit point
  "commit.beforeTransaction",
  "commit.afterTransactionBeforeReply",
  // garbage collection and compaction (T14)
  "gc.afterMark",
  "gc.afterIndexWrite",
  "compact.afterWrite",
  "compact.afterIndexSwitch",
  "gc.midDelete",
  "gc.afterDeleteBeforeCatalog",
  // purge
  "purge.afterUnregister",
] as const;

/** A registered crash point name. */
export type CrashPointName = (typeof CRASH_POINTS)[number];

/** Calls this at a crash point; kills the process when the point is armed. */
export type CrashPoint = (name: CrashPointName) => void;

/** A crash point that never fires. */
export const noCrash: CrashPoint = () => {};

/**
 * Parses `name[,hitCount]` (the value of FAULT_CRASH_AT) into a crash function. The process is
 * killed with SIGKILL on the `hitCount`-th (default first) time the named point is reached.
 */
export function createCrashPoints(spec: string | undefined, kill: () => void = () => process.kill(process.pid, "SIGKILL")): CrashPoint {
  if (!spec) return noCrash;
  const [name, countText] = spec.split(",", 2) as [string, string | undefined];
  if (!(CRASH_POINTS as readonly string[]).includes(name))
    throw new CairnError("CONFIG_INVALID", `unknown crash point ${name}; known: ${CRASH_POINTS.join(", ")}`);
  const target = countText === undefined ? 1 : Number(countText);
  if (!Number.isInteger(target) || target < 1) throw new CairnError("CONFIG_INVALID", `bad crash point hit count ${countText}`);
  let hits = 0;
  return (point) => {
    if (point !== name) return;
    hits++;
    if (hits === target) kill();
  };
}
