/**
 * Messages between the backup run (main thread) and its chunk workers.
 *
 * 1. main → worker `task`: a batch of files (many small ones, or one large one).
 * 2. worker → main `win`: the ids of the chunks of one window (≤ {@link WINDOW_BYTES} of
 *    plaintext). The worker keeps the plaintext and reads ahead at most {@link MAX_PENDING_WINDOWS}
 *    windows.
 * 3. main → worker `need`: which of those chunks the archive lacks (after `have`), one byte each.
 * 4. worker → main `sealed`: put frames of the needed chunks, in one transferred buffer of
 *    {@link SEALED_BUFFER_BYTES}; main → worker `recycle` returns it once every frame in it is
 *    acknowledged, so the buffers circulate instead of being allocated and collected.
 * 5. worker → main `files`: the files finished (block list and sealed metadata) or failed since
 *    the last such message, in one message per window.
 */

import { CHUNK_MAX_BYTES } from "@cairn/protocol";

/** Plaintext bytes per window (a window may end with one more chunk of up to 4 MiB). */
export const WINDOW_BYTES = 4 * 1024 * 1024;
/** Most chunks per window (bounded by the `have` request size). */
export const MAX_WINDOW_CHUNKS = 2048;
/** Windows a worker holds while waiting for `need`. */
export const MAX_PENDING_WINDOWS = 2;
/** Bytes of one sealed-window buffer: room for a whole window stored uncompressed, framed. */
export const SEALED_BUFFER_BYTES = WINDOW_BYTES + CHUNK_MAX_BYTES + 1 + MAX_WINDOW_CHUNKS * 160;

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
  /** zstd level (default: the protocol's). */
  level?: number;
  cpuPercent: number;
}

/** One file read to the end, or not. */
export type FileResult =
  | { idx: number; ok: true; blocks: Uint8Array; fileId: Uint8Array; meta: Uint8Array; size: number; mtime: number; ctime: number }
  | { idx: number; ok: false; changed: boolean; code: string; message: string };

/** Main → worker. */
export type ToWorker =
  | { t: "task"; task: number; files: FileJob[] }
  | { t: "need"; win: number; need: Uint8Array }
  | { t: "recycle"; buf: ArrayBuffer }
  | { t: "cpu"; percent: number };

/** Worker → main. */
export type FromWorker =
  | { t: "win"; win: number; ids: Uint8Array; sizes: Uint32Array }
  | { t: "sealed"; win: number; buf: ArrayBuffer | null; offsets: Uint32Array; plainBytes: number }
  | { t: "files"; results: FileResult[] }
  | { t: "taskdone"; task: number }
  | { t: "fatal"; message: string };
