/**
 * Messages between a restore (main thread) and its restore workers.
 *
 * 1. main → worker `batch`: the files of one `get` batch (temp and final paths, sizes, modes,
 *    block ids and sizes). The worker creates their temp files.
 * 2. main → worker `block`: one sealed block as the node streamed it, or the node's error for it,
 *    always in a transferred buffer: the socket's own message buffer when the block owns it,
 *    otherwise a fresh one it is copied to (structured cloning is far slower than a copy).
 * 3. main → worker `end`: the batch's `get` finished (`error` when it failed as a whole). The
 *    worker finishes each file (verify sizes, truncate, mode, times, rename, or remove the temp
 *    file) and answers `done` with one result per file.
 * 4. worker → main `consumed`: sealed bytes processed (the main thread's read backpressure).
 */
import type { WireError } from "@cairn/protocol";

/** One file of a batch. */
export interface RestoreFileJob {
  /** Index within the batch. */
  i: number;
  /** Archive path (for messages). */
  path: string;
  dest: string;
  temp: string;
  size: number;
  mode: number;
  mtimeMs: number;
  /** Where its concatenated 32-byte block ids are in the batch's `ids` buffer. */
  blocksAt: number;
  blockSizes: number[];
}

/** Worker start-up data. */
export interface RestoreWorkerInit {
  archiveKey: Uint8Array;
  archiveGuid: string;
  existing: "overwrite" | "rename";
}

/** Main → worker. */
export type ToRestoreWorker =
  | { t: "batch"; batch: number; files: RestoreFileJob[]; ids: ArrayBuffer }
  | {
      t: "block";
      batch: number;
      /** Holds the id (32 bytes at `idAt`) and the sealed block (`len` bytes at `dataAt`; -1: none). Always transferred. */
      buf: ArrayBuffer;
      idAt: number;
      dataAt: number;
      len: number;
      error: WireError | null;
    }
  | { t: "end"; batch: number; error: WireError | null };

/** The outcome of one file. */
export type RestoreFileResult = { i: number; ok: true; final: string } | { i: number; ok: false; code: string; message: string };

/** Worker → main. */
export type FromRestoreWorker =
  | { t: "done"; batch: number; results: RestoreFileResult[]; consumed: number }
  | { t: "consumed"; bytes: number }
  | { t: "fatal"; message: string };
