/**
 * A full disk under the agent's own data folder (its SQLite database or its credentials): one
 * stable code, LOCAL_DISK_FULL, wherever the write that hit it was made.
 */
import { CairnError, isCairnError } from "@cairn/protocol";

/** Whether `err` is a write of local state that failed for want of space (SQLITE_FULL, ENOSPC, EDQUOT). */
export function isLocalDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "SQLITE_FULL" || code === "ENOSPC" || code === "EDQUOT";
}

/** `err` as LOCAL_DISK_FULL when it is one (a CairnError is returned as it is); anything else unchanged. */
export function asLocalDiskFull(err: unknown, what: string): unknown {
  if (isCairnError(err) || !isLocalDiskFull(err)) return err;
  return new CairnError("LOCAL_DISK_FULL", `the disk of the agent's data folder is full: the ${what} stopped`, { cause: err });
}
