/**
 * A chunk worker (worker_threads): reads files with large sequential reads, cuts them with
 * FastCDC, computes keyed chunk ids, and, for the chunks the main thread says the archive lacks,
 * compresses (when it pays), seals and frames them as `put` messages. It also seals each file's
 * metadata. Everything here is CPU work that would otherwise compete with TLS on the main thread.
 *
 * Buffers: the read windows (at most {@link MAX_PENDING_WINDOWS} awaiting `need`, at most
 * {@link MAX_WORKER_WINDOWS} in all, each {@link WINDOW_BYTES} plus
 * room for one chunk) and the chunker's carry-over are allocated once and reused; the sealer keeps
 * its zstd context and scratch. Each sealed window goes to the main thread as one transferred
 * buffer sized for the worst case (every chunk stored) and filled in place: the sealer writes each
 * block at its place inside its put frame, so no block is copied after encryption; pages past the
 * filled part are never touched and cost no memory.
 *
 * Files that change while being read (size, mtime or ctime differ between the scan, the open
 * and the end of the read) are reported `changed`; the run re-stats and retries them.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { BlockSealer, blocksHashOf, CHUNK_MAX_BYTES, Chunker, chunkId, deriveArchiveKeys, fileIdFor, gearTable, sealFileMeta } from "@cairn/protocol";
import { ExternalGarbage } from "../gc.js";
import { framePut, PUT_DATA_OFFSET } from "./put-frame.js";
import {
  type FileJob,
  type FileResult,
  type FromWorker,
  MAX_PENDING_WINDOWS,
  MAX_WORKER_WINDOWS,
  MAX_WINDOW_CHUNKS,
  packFileResults,
  SEALED_BUFFER_BYTES,
  type ToWorker,
  WINDOW_BYTES,
  WINDOW_HEADROOM_BYTES,
  WINDOW_PLAIN_BYTES,
  type WorkerInit,
} from "./worker-protocol.js";

const init = workerData as WorkerInit;
const keys = deriveArchiveKeys(Buffer.from(init.archiveKey), init.archiveGuid);
const chunker = new Chunker(gearTable(keys.cdc));
const sealer = new BlockSealer(keys, { mode: init.compress, ...(init.level ? { level: init.level } : {}) });
/** Plaintext goes at [HEAD, HEAD + CAP) of a window buffer. */
const HEAD = WINDOW_HEADROOM_BYTES;
const CAP = WINDOW_PLAIN_BYTES;
let cpuPercent = init.cpuPercent;
/** Sealing leaves a dead 64 KiB cipher output per piece: scavenged every 2 MiB (../gc.ts). */
const garbage = new ExternalGarbage(2 * 1024 * 1024);

interface OpenFile {
  job: FileJob;
  task: number;
  fd: number;
  /** Bytes chunked so far: the next read starts here (an unfinished chunk at the end of a window is read again). */
  pos: number;
  ids: Buffer[];
  sizes: number[];
}

interface Task {
  task: number;
  files: FileJob[];
  next: number;
}

const tasks: Task[] = [];
let current: OpenFile | null = null;
/** Windows awaiting the main thread's answer: their buffer, chunks (views into it) and ids. */
const pending = new Map<number, { buf: Buffer; chunks: Buffer[]; ids: Buffer[] }>();
/** Window buffers free for reading (returned by the main thread once their frames are acknowledged). */
const freeWindows: Buffer[] = [];
/** Window buffers allocated so far (at most {@link MAX_WORKER_WINDOWS}). */
let windowsAllocated = 0;
let nextWin = 1;
let scheduled = false;
let pausedUntil = 0;
let results: FileResult[] = [];

function post(msg: FromWorker, transfer?: ArrayBuffer[]): void {
  parentPort?.postMessage(msg, transfer);
}

function flushResults(): void {
  if (results.length === 0) return;
  const { msg, transfer } = packFileResults(results);
  post(msg, transfer);
  results = [];
}

function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException)?.code ?? "EIO";
}

function nextFile(): OpenFile | null | "skip" {
  while (tasks.length > 0) {
    const t = tasks[0] as Task;
    if (t.next >= t.files.length) {
      tasks.shift();
      flushResults();
      post({ t: "taskdone", task: t.task });
      continue;
    }
    const job = t.files[t.next++] as FileJob;
    let fd: number;
    try {
      fd = openSync(job.path, constants.O_RDONLY | constants.O_NOFOLLOW | (constants.O_NOATIME ?? 0));
    } catch (err) {
      // O_NOATIME needs ownership; retry without it before giving up.
      try {
        fd = openSync(job.path, constants.O_RDONLY | constants.O_NOFOLLOW);
      } catch (err2) {
        const code = errCode(err2);
        results.push({ idx: job.idx, ok: false, changed: code === "ENOENT" || code === "ELOOP", code, message: (err2 as Error).message ?? String(err) });
        return "skip";
      }
    }
    const st = fstatSync(fd);
    // on the last try a file that changed since it was looked at is read as it is now (up to the size seen)
    if (!st.isFile() || (!job.lastTry && (st.size !== job.size || st.mtimeMs !== job.mtime || st.ino !== job.ino))) {
      closeSync(fd);
      results.push({ idx: job.idx, ok: false, changed: true, code: "CHANGED", message: "file changed since the scan" });
      return "skip";
    }
    return { job, task: t.task, fd, pos: 0, ids: [], sizes: [] };
  }
  return null;
}

function finishFile(f: OpenFile): void {
  let st: ReturnType<typeof fstatSync>;
  try {
    st = fstatSync(f.fd);
  } finally {
    closeSync(f.fd);
  }
  const j = f.job;
  const changed = st.size !== j.size || st.mtimeMs !== j.mtime || st.ctimeMs !== j.ctime || f.pos !== j.size;
  if (changed && !j.lastTry) {
    results.push({ idx: j.idx, ok: false, changed: true, code: "CHANGED", message: "file changed while being read" });
    return;
  }
  // kept as read: its size is what was read; its times are those the scan saw, so the next
  // backup sees the file changed and reads it again
  const size = changed ? f.pos : j.size;
  const fileId = fileIdFor(keys, j.path);
  const blocks = f.ids.length === 1 ? (f.ids[0] as Buffer) : Buffer.concat(f.ids);
  const meta = sealFileMeta(keys, fileId, {
    path: j.path,
    type: "file",
    mode: j.mode,
    mtimeMs: Math.max(0, Math.floor(j.mtime)),
    size,
    blockSizes: f.sizes,
    uid: j.uid,
    gid: j.gid,
    blocksHash: blocksHashOf(blocks),
  });
  results.push({
    idx: j.idx,
    ok: true,
    blocks,
    fileId,
    meta,
    size,
    mtime: j.mtime,
    ctime: j.ctime,
    ...(changed ? { fuzzy: true } : {}),
  });
}

function failFile(f: OpenFile, err: unknown): void {
  try {
    closeSync(f.fd);
  } catch {
    // already closed
  }
  results.push({ idx: f.job.idx, ok: false, changed: false, code: errCode(err), message: (err as Error)?.message ?? String(err) });
}

/** Reads and chunks up to one window; returns false when there was nothing to do. */
function produceWindow(): boolean {
  let whole = freeWindows.pop();
  if (!whole) {
    whole = Buffer.allocUnsafeSlow(SEALED_BUFFER_BYTES);
    windowsAllocated++;
  }
  const buf = whole.subarray(HEAD);
  let used = 0;
  const chunks: Buffer[] = [];
  const ids: Buffer[] = [];
  const finished: OpenFile[] = [];
  while (used < WINDOW_BYTES && chunks.length < MAX_WINDOW_CHUNKS) {
    if (!current) {
      const n = nextFile();
      if (n === "skip") continue;
      if (n === null) break;
      current = n;
    }
    const f = current;
    const remaining = f.job.size - f.pos;
    const room = CAP - used;
    // a window needs room for a whole chunk of what is left, or the rest of the file
    if (room < CHUNK_MAX_BYTES + 1 && remaining > room) break;
    const start = used;
    const want = Math.min(room, remaining);
    let got = 0;
    try {
      while (got < want) {
        const n = readSync(f.fd, buf, used + got, want - got, f.pos + got);
        if (n === 0) break;
        got += n;
      }
    } catch (err) {
      current = null;
      failFile(f, err);
      continue;
    }
    used += got;
    const eof = f.pos + got >= f.job.size || got < want;
    let off = start;
    while (off < used) {
      const len = chunker.cut(buf, off, used, eof);
      if (len === 0) break;
      const c = buf.subarray(off, off + len);
      const id = chunkId(keys, c);
      chunks.push(c);
      ids.push(id);
      f.ids.push(id);
      f.sizes.push(len);
      off += len;
    }
    // the unfinished chunk at the end is read again into the next window (from the page cache;
    // cheaper than keeping a carry-over buffer, and every chunk still comes from one read)
    f.pos += off - start;
    used = off;
    if (eof) {
      current = null;
      finished.push(f);
    }
  }
  if (chunks.length > 0) {
    const win = nextWin++;
    pending.set(win, { buf: whole, chunks, ids });
    const sizes = new Uint32Array(chunks.length);
    for (let i = 0; i < chunks.length; i++) sizes[i] = (chunks[i] as Buffer).length;
    const all = Buffer.allocUnsafeSlow(ids.length * 32);
    for (let i = 0; i < ids.length; i++) all.set(ids[i] as Buffer, i * 32);
    post({ t: "win", win, ids: all, sizes }, [all.buffer as ArrayBuffer, sizes.buffer as ArrayBuffer]);
  } else freeWindows.push(whole);
  for (const f of finished) finishFile(f);
  flushResults();
  return chunks.length > 0 || finished.length > 0 || current !== null || tasks.length > 0;
}

function seal(win: number, need: Uint8Array): void {
  const p = pending.get(win);
  if (!p) return;
  pending.delete(win);
  const { chunks, ids } = p;
  let count = 0;
  for (let i = 0; i < chunks.length; i++) if (need[i]) count++;
  if (count === 0) {
    freeWindows.push(p.buf);
    post({ t: "sealed", win, buf: null, offsets: new Uint32Array(1), plainBytes: 0 });
    return;
  }
  // sealed in place: frames from offset 0 of the window's buffer, below the plaintext still to seal
  const out = p.buf;
  const offsets = new Uint32Array(count + 1);
  let o = 0;
  let k = 0;
  let plainBytes = 0;
  for (let i = 0; i < chunks.length; i++) {
    if (!need[i]) continue;
    const c = chunks[i] as Buffer;
    const id = ids[i] as Buffer;
    offsets[k++] = o;
    const sealedLen = sealer.sealInto(id, c, out, o + PUT_DATA_OFFSET);
    o += framePut(out, o, id, sealedLen);
    plainBytes += c.length;
  }
  offsets[k] = o;
  garbage.add(o);
  const ab = out.buffer as ArrayBuffer;
  post({ t: "sealed", win, buf: ab, offsets, plainBytes }, [ab]);
}

function loop(): void {
  scheduled = false;
  const now = performance.now();
  if (now < pausedUntil) {
    schedule(pausedUntil - now);
    return;
  }
  if (pending.size >= MAX_PENDING_WINDOWS) return;
  // every buffer is pending or on its way to the node: reading resumes when one comes back
  if (freeWindows.length === 0 && windowsAllocated >= MAX_WORKER_WINDOWS) return;
  const t0 = performance.now();
  const more = produceWindow();
  throttle(t0);
  if (more) schedule(0);
}

function throttle(t0: number): void {
  if (cpuPercent >= 100) return;
  const spent = performance.now() - t0;
  pausedUntil = performance.now() + (spent * (100 - cpuPercent)) / cpuPercent;
}

function schedule(delayMs: number): void {
  if (scheduled) return;
  scheduled = true;
  if (delayMs > 0) setTimeout(loop, delayMs);
  else setImmediate(loop);
}

parentPort?.on("message", (msg: ToWorker) => {
  try {
    if (msg.t === "task") {
      tasks.push({ task: msg.task, files: msg.files, next: 0 });
      schedule(0);
    } else if (msg.t === "need") {
      const t0 = performance.now();
      seal(msg.win, msg.need);
      throttle(t0);
      schedule(0);
    } else if (msg.t === "recycle") {
      // kept, all of them (at most MAX_WORKER_WINDOWS exist): a buffer reused is one not freed
      // and allocated again (freed ones sat in the arena until collected)
      freeWindows.push(Buffer.from(msg.buf));
      schedule(0);
    } else if (msg.t === "cpu") {
      cpuPercent = Math.max(1, Math.min(100, msg.percent));
    }
  } catch (err) {
    post({ t: "fatal", message: err instanceof Error ? err.message : String(err) });
  }
});
