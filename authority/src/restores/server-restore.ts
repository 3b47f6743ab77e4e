/**
 * A server file-system restore (API.md §8 `restoreToServer:true`): the planned entries are
 * written below `<restore folder>/<job id>/`, a folder this restore creates (0700), with the same
 * safe names as a zip (no entry leaves it; symlinks are never restored here). Each file is
 * written to a temporary name (`O_EXCL | O_NOFOLLOW`), checked block by block while it is written
 * (`fileContent`), flushed, and only then renamed into place, so no partial file ever carries a
 * final name (T11's rule for restores that write files). The warnings file lands beside them.
 */
import { randomBytes } from "node:crypto";
import { constants, mkdirSync } from "node:fs";
import { open, rename, rm, utimes, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { ArchiveKeys } from "@cairn/protocol";
import { type ByteMeter, fileContent } from "./block-reader.js";
import type { ArchiveSource } from "./catalog.js";
import type { RestorePlan } from "./restore-plan.js";
import { WARNINGS_FILE } from "./zip-names.js";

/** Progress of a server restore. */
export interface ServerRestoreProgress {
  files: number;
  bytes: number;
}

async function writeOne(
  src: ArchiveSource,
  archiveGuid: string,
  keys: ArchiveKeys,
  dest: string,
  e: RestorePlan["entries"][number]["entry"],
  meter: ByteMeter,
  signal: AbortSignal,
): Promise<void> {
  const temp = join(dirname(dest), `.${randomBytes(6).toString("hex")}.cairn-restore`);
  const fh = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    for await (const chunk of fileContent(src, archiveGuid, keys, e, meter, signal)) await fh.write(chunk);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(temp, { force: true });
    throw err;
  }
  await fh.close();
  await rename(temp, dest);
  const t = e.mtimeMs / 1000;
  await utimes(dest, t, t).catch(() => undefined);
}

/** Writes `plan` below `root/<jobId>`; returns the folder. */
export async function restoreToFolder(
  src: ArchiveSource,
  archiveGuid: string,
  keys: ArchiveKeys,
  plan: RestorePlan,
  root: string,
  jobId: string,
  warnings: string,
  progress: (p: ServerRestoreProgress) => void,
  signal: AbortSignal,
): Promise<string> {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const base = join(root, jobId);
  mkdirSync(base, { mode: 0o700 });
  const done: ServerRestoreProgress = { files: 0, bytes: 0 };
  const meter: ByteMeter = {
    add(n) {
      done.bytes += n;
    },
  };
  for (const { entry, name } of plan.entries) {
    if (signal.aborted) throw signal.reason;
    const dest = join(base, ...name.split("/"));
    if (entry.type === "dir") {
      mkdirSync(dest, { recursive: true, mode: 0o700 });
      continue;
    }
    mkdirSync(dirname(dest), { recursive: true, mode: 0o700 });
    await writeOne(src, archiveGuid, keys, dest, entry, meter, signal);
    done.files++;
    progress({ ...done });
  }
  if (warnings !== "") await writeFile(join(base, WARNINGS_FILE), warnings, { mode: 0o600, flag: "wx" });
  return base;
}
