import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = "cairn-agent-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A silent logger. */
export const quietLogger = pino({ level: "silent" });
