/**
 * The node's databases are the service user's alone: SQLite creates them with the process umask
 * (0644 under the usual 022), and its `-wal` and `-shm` files take the database file's mode.
 * Inside the 0700 data folder that is harmless, but a folder opened up by an operator (or a copy
 * of the file) should not expose index rows or tokens.
 */
import { chmodSync, existsSync, statSync } from "node:fs";

/** Sets `path` (and its `-wal`/`-shm` files) to 0600 when group or others have any access. */
export function keepDbPrivate(path: string): void {
  for (const p of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      if (existsSync(p) && (statSync(p).mode & 0o077) !== 0) chmodSync(p, 0o600);
    } catch {
      // a file system without modes, or not ours to change: the data folder's mode stands
    }
  }
}
