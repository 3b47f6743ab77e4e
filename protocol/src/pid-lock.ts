/**
 * A lock file holding its owner's pid, created with O_EXCL: one holder per file. A lock whose
 * pid no longer runs is stale and taken over (a killed process leaves its file behind); another
 * live holder means LOCKED (exit 11). Used for one daemon per data folder (`cairn agent serve`,
 * `cairn storenode serve`, `cairn authority serve`) and one backup or restore at a time on a device.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { CairnError } from "./errors.js";

const held = new Set<string>();

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes the lock file `path`; returns the release function. `message` says who holds it when refused. */
export function acquirePidLock(path: string, message: string): () => void {
  if (held.has(path)) throw new CairnError("LOCKED", `${message} (in this process)`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      held.add(path);
      return () => {
        held.delete(path);
        rmSync(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      let pid = 0;
      try {
        pid = Number.parseInt(readFileSync(path, "utf8").trim(), 10);
      } catch {
        pid = 0;
      }
      if (pid !== process.pid && alive(pid)) throw new CairnError("LOCKED", `${message} (pid ${pid})`, { details: { pid } });
      if (pid === process.pid) throw new CairnError("LOCKED", `${message} (in this process)`);
      rmSync(path, { force: true });
    }
  }
  throw new CairnError("LOCKED", `could not take ${path}`);
}
