/**
 * Progress of long work (backup, restore), reported as plain snapshots; the command line draws a
 * bar on a terminal or prints JSON Lines under `--json`, the daemon keeps the latest for
 * `status`. Reporters are throttled by the caller ({@link throttled}).
 */

/** A snapshot of a running backup or restore. */
export interface ProgressEvent {
  phase: "scan" | "upload" | "commit" | "restore";
  totalFiles: number;
  totalBytes: number;
  doneFiles: number;
  doneBytes: number;
  /** Sealed bytes sent to the node (backup). */
  uploadedBytes: number;
  errors: number;
}

/** Receives progress snapshots. */
export type ProgressSink = (p: ProgressEvent) => void;

/** Does nothing. */
export const noProgress: ProgressSink = () => undefined;

/** Wraps a sink so that it fires at most every `intervalMs` (phase changes always pass). */
export function throttled(sink: ProgressSink, intervalMs = 200, now: () => number = () => performance.now()): ProgressSink {
  let last = Number.NEGATIVE_INFINITY;
  let phase = "";
  return (p) => {
    const t = now();
    if (p.phase === phase && t - last < intervalMs) return;
    last = t;
    phase = p.phase;
    sink(p);
  };
}

/** Rate and ETA from two observations. */
export function rateAndEta(doneBytes: number, totalBytes: number, elapsedMs: number): { bytesPerSec: number; etaSec: number | null } {
  const bytesPerSec = elapsedMs > 0 ? (doneBytes * 1000) / elapsedMs : 0;
  const etaSec = bytesPerSec > 0 ? Math.max(0, (totalBytes - doneBytes) / bytesPerSec) : null;
  return { bytesPerSec, etaSec };
}
