/**
 * A chunk worker (worker_threads): reads files with large sequential reads, cuts them with
 * FastCDC, computes keyed chunk ids, and, for the chunks the main thread says the archive lacks,
 * compresses (when it pays), seals and frames them as `put` messages. It also seals each file's
 * metadata. Everything here is CPU work that would otherwise compete with TLS on the main thread.
 *
 * Files that change while being read (size, mtime or ctime differ between the scan, the open
 * and the end of the read) are reported `changed`; the run re-stats and retries them.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { CHUNK_MAX_BYTES, Chunker, chunkId, deriveArchiveKeys, fileIdFor, gearTable, sealBlock, sealFileMeta, sha256 } from "@cairn/protocol";
import { PUT_FRAME_OVERHEAD, writePutFrame } from "./put-frame.js";
import { type FileJob, type FromWorker, MAX_PENDING_WINDOWS, MAX_WINDOW_CHUNKS, type ToWorker, WINDOW_BYTES, type WorkerInit } from "./worker-protocol.js";

const init = workerData as WorkerInit;
const keys = deriveArchiveKeys(Buffer.from(init.archiveKey), init.archiveGuid);
const chunker = new Chunker(gearTable(keys.cdc));
const CAP = WINDOW_BYTES + CHUNK_MAX_BYTES + 1;
let cpuPercent = init.cpuPercent;

interface OpenFile {
  job: FileJob;
  task: number;
  fd: number;
  pos: number;
  carry: Buffer | null;
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
const pending = new Map<number, { chunks: Buffer[]; ids: Buffer[] }>();
let nextWin = 1;
let scheduled = false;
let pausedUntil = 0;

function post(msg: FromWorker, transfer?: ArrayBuffer[]): void {
  parentPort?.postMessage(msg, transfer);
}

function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException)?.code ?? "EIO";
}

function nextFile(): OpenFile | null | "skip" {
  while (tasks.length > 0) {
    const t = tasks[0] as Task;
    if (t.next >= t.files.length) {
      tasks.shift();
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
        post({
          t: "file",
          task: t.task,
          idx: job.idx,
          ok: false,
          changed: code === "ENOENT" || code === "ELOOP",
          code,
          message: (err2 as Error).message ?? String(err),
        });
        return "skip";
      }
    }
    const st = fstatSync(fd);
    if (!st.isFile() || st.size !== job.size || st.mtimeMs !== job.mtime || st.ino !== job.ino) {
      closeSync(fd);
      post({ t: "file", task: t.task, idx: job.idx, ok: false, changed: true, code: "CHANGED", message: "file changed since the scan" });
      return "skip";
    }
    return { job, task: t.task, fd, pos: 0, carry: null, ids: [], sizes: [] };
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
  if (st.size !== j.size || st.mtimeMs !== j.mtime || st.ctimeMs !== j.ctime || f.pos !== j.size) {
    post({ t: "file", task: f.task, idx: j.idx, ok: false, changed: true, code: "CHANGED", message: "file changed while being read" });
    return;
  }
  const fileId = fileIdFor(keys, j.path);
  const meta = sealFileMeta(keys, fileId, {
    path: j.path,
    type: "file",
    mode: j.mode,
    mtimeMs: Math.max(0, Math.floor(j.mtime)),
    size: j.size,
    blockSizes: f.sizes,
    uid: j.uid,
    gid: j.gid,
  });
  post({ t: "file", task: f.task, idx: j.idx, ok: true, blocks: Buffer.concat(f.ids), fileId, meta, size: j.size, mtime: j.mtime, ctime: j.ctime });
}

function failFile(f: OpenFile, err: unknown): void {
  try {
    closeSync(f.fd);
  } catch {
    // already closed
  }
  post({ t: "file", task: f.task, idx: f.job.idx, ok: false, changed: false, code: errCode(err), message: (err as Error)?.message ?? String(err) });
}

/** Reads and chunks up to one window; returns false when there was nothing to do. */
function produceWindow(): boolean {
  const buf = Buffer.allocUnsafeSlow(CAP);
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
    const carryLen = f.carry ? f.carry.length : 0;
    const remaining = f.job.size - f.pos;
    const room = CAP - used;
    if (room < CHUNK_MAX_BYTES + 1 && carryLen + remaining > room) break;
    const start = used;
    if (f.carry) {
      f.carry.copy(buf, used);
      used += carryLen;
      f.carry = null;
    }
    const want = Math.min(CAP - used, remaining);
    let got = 0;
    try {
      while (got < want) {
        const n = readSync(f.fd, buf, used + got, want - got, f.pos + got);
        if (n === 0) break;
        got += n;
      }
    } catch (err) {
      current = null;
      used = start;
      failFile(f, err);
      continue;
    }
    f.pos += got;
    used += got;
    const eof = f.pos >= f.job.size || got < want;
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
    if (off < used) {
      f.carry = Buffer.from(buf.subarray(off, used));
      used = off;
    }
    if (eof) {
      current = null;
      finished.push(f);
    }
  }
  if (chunks.length > 0) {
    const win = nextWin++;
    pending.set(win, { chunks, ids });
    const sizes = new Uint32Array(chunks.length);
    chunks.forEach((c, i) => {
      sizes[i] = c.length;
    });
    post({ t: "win", win, ids: Buffer.concat(ids), sizes });
  }
  for (const f of finished) finishFile(f);
  return chunks.length > 0 || finished.length > 0 || current !== null || tasks.length > 0;
}

function seal(win: number, need: Uint8Array): void {
  const p = pending.get(win);
  if (!p) return;
  pending.delete(win);
  const { chunks, ids } = p;
  const sealed: Array<{ id: Buffer; sha: Buffer; data: Buffer }> = [];
  let plainBytes = 0;
  let total = 0;
  for (let i = 0; i < chunks.length; i++) {
    if (!need[i]) continue;
    const c = chunks[i] as Buffer;
    const id = ids[i] as Buffer;
    const data = sealBlock(keys, id, c, { mode: init.compress });
    sealed.push({ id, sha: sha256(data), data });
    plainBytes += c.length;
    total += PUT_FRAME_OVERHEAD + data.length;
  }
  const out = Buffer.allocUnsafeSlow(Math.max(1, total));
  const offsets = new Uint32Array(sealed.length + 1);
  let o = 0;
  sealed.forEach((s, i) => {
    offsets[i] = o;
    o += writePutFrame(out, o, s.id, s.sha, s.data);
  });
  offsets[sealed.length] = o;
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
    } else if (msg.t === "cpu") {
      cpuPercent = Math.max(1, Math.min(100, msg.percent));
    }
  } catch (err) {
    post({ t: "fatal", message: err instanceof Error ? err.message : String(err) });
  }
});
