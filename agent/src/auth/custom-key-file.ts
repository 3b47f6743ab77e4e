/**
 * A custom key written where the user asked, never printed: created new (O_EXCL, so an existing
 * file, perhaps another key, is never overwritten), mode 0600, 64 hex digits and a newline (what
 * `cairn agent register --custom-key` takes).
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { CairnError } from "@cairn/protocol";

/** Saves `key` (32 bytes) as hex in a new file at `path`. */
export function saveCustomKey(path: string, key: Buffer): void {
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o600);
  } catch (cause) {
    throw new CairnError("CONFIG_INVALID", `cannot create the key file ${path} (it must not exist yet)`, { cause });
  }
  try {
    writeSync(fd, `${key.toString("hex")}\n`);
  } finally {
    closeSync(fd);
  }
}
