/**
 * Messages between the backup run (main thread) and its chunk workers.
 *
 * 1. main → worker `task`: a batch of files (many small ones, or one large one).
 * 2. worker → main `win`: the ids of the chunks of one window (≤ {@link WINDOW_BYTES} of
 *    plaintext). The worker keeps the plaintext and reads ahead at most {@link MAX_PENDING_WINDOWS}
 *    windows.
 * 3. main → worker `need`: which of those chunks the archive lacks (after `have`), one byte each.
 * 4. worker → main `sealed`: put frames of the needed chunks, in one transferred buffer.
 * 5. worker → main `file`: one file finished (its block list and sealed metadata) or failed.
 */

/** Plaintext bytes per window. */
export const WINDOW_BYTES = 8 * 1024 * 1024;
/** Most chunks per window (bounded by the `have` request size). */
export const MAX_WINDOW_CHUNKS = 2048;
/** Windows a worker holds while waiting for `need`. */
export const MAX_PENDING_WINDOWS = 2;

/** One file to read. */
export interface FileJob {
  /** The run's index of this file. */
  idx: number;
  path: string;
  size: number;
  mtime: number;
  ctime: number;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
}

/** Worker start-up data. */
export interface WorkerInit {
  archiveKey: Uint8Array;
  archiveGuid: string;
  compress: "auto" | "never";
  cpuPercent: number;
}

/** Main → worker. */
export type ToWorker = { t: "task"; task: number; files: FileJob[] } | { t: "need"; win: number; need: Uint8Array } | { t: "cpu"; percent: number };

/** Worker → main. */
export type FromWorker =
  | { t: "win"; win: number; ids: Uint8Array; sizes: Uint32Array }
  | { t: "sealed"; win: number; buf: ArrayBuffer; offsets: Uint32Array; plainBytes: number }
  | {
      t: "file";
      task: number;
      idx: number;
      ok: true;
      blocks: Uint8Array;
      fileId: Uint8Array;
      meta: Uint8Array;
      size: number;
      mtime: number;
      ctime: number;
    }
  | { t: "file"; task: number; idx: number; ok: false; changed: boolean; code: string; message: string }
  | { t: "taskdone"; task: number }
  | { t: "fatal"; message: string };
