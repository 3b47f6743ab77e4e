/**
 * Messages between the backup run (main thread) and its chunk workers.
 *
 * 1. main → worker `task`: a batch of files (many small ones, or one large one).
 * 2. worker → main `win`: the ids of the chunks of one window (≤ {@link WINDOW_BYTES} of
 *    plaintext). The worker keeps the plaintext and reads ahead at most {@link MAX_PENDING_WINDOWS}
 *    windows.
 * 3. main → worker `need`: which of those chunks the archive lacks (after `have`), one byte each.
 * 4. worker → main `sealed`: put frames of the needed chunks, sealed in place in the window's own
 *    buffer ({@link SEALED_BUFFER_BYTES}), which is transferred; main → worker `recycle` returns
 *    it once every frame in it is acknowledged, so window buffers circulate instead of being
 *    allocated and collected, and a block is never copied between reading and the socket.
 * 5. worker → main `files`: the files finished (block list and sealed metadata) or failed since
 *    the last such message, in one message per window.
 */

import { CHUNK_MAX_BYTES, SEAL_OVERHEAD_BYTES } from "@cairn/protocol";
import { PUT_FRAME_OVERHEAD } from "./put-frame.js";

/** Plaintext bytes per window (a window may end with one more chunk of up to 4 MiB). */
export const WINDOW_BYTES = 2 * 1024 * 1024;
/** Most chunks per window (bounded by the `have` request size). */
export const MAX_WINDOW_CHUNKS = 2048;
/** Windows a worker holds while waiting for `need`. */
export const MAX_PENDING_WINDOWS = 2;
/**
 * Window buffers a worker allocates in all (pending, sealed and in flight, or free): past it a
 * worker reads on only once a buffer comes back. Without it, a worker holding every sealed buffer
 * the run lets out (MAX_SEALED_BUFFERS, uploader.ts) allocated 6 of them, 12 for two workers:
 * 76 MiB that stayed resident to the end. Three (two awaiting `need`, one sealing or in flight)
 * kept the initial backup's wall time within noise of four and took 6-13 MiB off its peak RSS
 * (alternating runs of the harness: 219-227 against 232-240 MiB).
 */
export const MAX_WORKER_WINDOWS = 3;
/** Room kept before a window's plaintext: the put frames sealed in place grow by at most this much. */
export const WINDOW_HEADROOM_BYTES = MAX_WINDOW_CHUNKS * (PUT_FRAME_OVERHEAD + SEAL_OVERHEAD_BYTES);
/** Plaintext a window buffer holds: the window and the one chunk that may end it. */
export const WINDOW_PLAIN_BYTES = WINDOW_BYTES + CHUNK_MAX_BYTES + 1;
/**
 * Bytes of one window buffer. A window is read at {@link WINDOW_HEADROOM_BYTES}, and its needed
 * chunks are sealed in place as put frames from offset 0: a frame is at most its chunk plus
 * 130 bytes, so frame i ends at most 130·(i+1) bytes past the start of chunk i+1's plaintext in
 * the window, which the headroom covers: the frames never reach a chunk not sealed yet. The buffer then goes
 * to the main thread as the window's sealed frames and comes back once they are acknowledged.
 */
export const SEALED_BUFFER_BYTES = WINDOW_HEADROOM_BYTES + WINDOW_PLAIN_BYTES;

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
  /**
   * The run's last attempt at this file: if it changes while it is read again (a log being
   * written, a database in use), it is kept as read (`fuzzy`) instead of failing the backup.
   */
  lastTry?: boolean;
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
  | { idx: number; ok: true; blocks: Uint8Array; fileId: Uint8Array; meta: Uint8Array; size: number; mtime: number; ctime: number; fuzzy?: boolean }
  | { idx: number; ok: false; changed: boolean; code: string; message: string };

/** A finished file on the wire: its byte strings are ranges of the message's one transferred buffer. */
type WireFileResult =
  | {
      idx: number;
      ok: true;
      size: number;
      mtime: number;
      ctime: number;
      fuzzy?: boolean;
      at: [blocks: number, blocksLen: number, fileId: number, meta: number, metaLen: number];
    }
  | Extract<FileResult, { ok: false }>;

/**
 * Packs file results into one message whose byte strings share one buffer, moved (not cloned)
 * to the main thread: structured-cloning many small Buffers copies each one's whole 8 KiB pool
 * slab, which costs more than the work it reports.
 */
export function packFileResults(results: readonly FileResult[]): { msg: Extract<FromWorker, { t: "files" }>; transfer: ArrayBuffer[] } {
  let total = 0;
  for (const r of results) if (r.ok) total += r.blocks.length + r.fileId.length + r.meta.length;
  const blob = Buffer.allocUnsafeSlow(Math.max(1, total));
  let o = 0;
  const wire: WireFileResult[] = results.map((r) => {
    if (!r.ok) return r;
    const b = o;
    blob.set(r.blocks, o);
    o += r.blocks.length;
    const f = o;
    blob.set(r.fileId, o);
    o += r.fileId.length;
    const m = o;
    blob.set(r.meta, o);
    o += r.meta.length;
    return {
      idx: r.idx,
      ok: true,
      size: r.size,
      mtime: r.mtime,
      ctime: r.ctime,
      ...(r.fuzzy ? { fuzzy: true } : {}),
      at: [b, r.blocks.length, f, m, r.meta.length],
    };
  });
  const ab = blob.buffer as ArrayBuffer;
  return { msg: { t: "files", blob: ab, results: wire }, transfer: [ab] };
}

/** The file results of a `files` message (byte strings are views into its buffer). */
export function unpackFileResults(msg: Extract<FromWorker, { t: "files" }>): FileResult[] {
  const blob = Buffer.from(msg.blob);
  return msg.results.map((r) => {
    if (!r.ok) return r;
    const [b, bl, f, m, ml] = r.at;
    return {
      idx: r.idx,
      ok: true,
      size: r.size,
      mtime: r.mtime,
      ctime: r.ctime,
      ...(r.fuzzy ? { fuzzy: true } : {}),
      blocks: blob.subarray(b, b + bl),
      fileId: blob.subarray(f, f + 16),
      meta: blob.subarray(m, m + ml),
    };
  });
}

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
  | { t: "files"; blob: ArrayBuffer; results: WireFileResult[] }
  | { t: "taskdone"; task: number }
  | { t: "fatal"; message: string };
