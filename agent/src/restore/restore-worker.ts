/**
 * A restore worker (worker_threads): writes the files of the batches it is given. For each file it
 * creates a temporary name in the target directory (`O_CREAT | O_EXCL | O_NOFOLLOW`, 0600); every
 * block the main thread forwards is opened here (AES-GCM, zstd into a reused buffer, keyed-id
 * check), size-checked and written at its offsets (all-zero blocks are skipped, so sparse files
 * stay sparse). When the batch ends, a file whose every block arrived and verified gets its size,
 * mode and times and is renamed into place (overwriting, or after moving the file already there
 * to a free `name (original N)` name); any other file's temp name is removed, so nothing of a
 * damaged file remains.
 */
import { closeSync, constants, fchmodSync, fstatSync, ftruncateSync, futimesSync, openSync, unlinkSync, writeSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { BlockOpener, CairnError, deriveArchiveKeys, fromWire, isCairnError, type WireError } from "@cairn/protocol";
import { ExternalGarbage } from "../gc.js";
import type { FromRestoreWorker, RestoreFileJob, RestoreFileResult, RestoreWorkerInit, ToRestoreWorker } from "./restore-protocol.js";
import { placeRestored } from "./safe-path.js";
import { targetErrorCode } from "./target-errors.js";

const init = workerData as RestoreWorkerInit;
const keys = deriveArchiveKeys(Buffer.from(init.archiveKey), init.archiveGuid);
const opener = new BlockOpener(keys);
const ZEROS = Buffer.alloc(64 * 1024);
const CONSUMED_REPORT_BYTES = 2 * 1024 * 1024;
/** Every block arrives in a buffer of its own and opening it leaves cipher outputs: scavenged every 2 MiB (../gc.ts). */
const garbage = new ExternalGarbage(2 * 1024 * 1024);

interface Target {
  job: RestoreFileJob;
  fd: number;
  failed: CairnError | null;
  written: number;
  /** End of the last byte written (a shorter file is truncated up to its size). */
  end: number;
}

interface Batch {
  targets: Target[];
  /** Where each block id goes (latin1 key): target and offset, in file order. */
  wants: Map<string, Array<{ t: Target; offset: number; size: number }>>;
  seen: Set<string>;
}

const batches = new Map<number, Batch>();
let consumed = 0;
let reportScheduled = false;

function reportConsumed(): void {
  reportScheduled = false;
  if (consumed === 0) return;
  post({ t: "consumed", bytes: consumed });
  consumed = 0;
}

function post(msg: FromRestoreWorker): void {
  parentPort?.postMessage(msg);
}

function asError(err: unknown, fallback: string): CairnError {
  if (isCairnError(err)) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  return new CairnError(targetErrorCode(code) ?? "INTERNAL", `${fallback}: ${(err as Error)?.message ?? String(err)}`, {
    cause: err,
    ...(code ? { details: { errno: code } } : {}),
  });
}

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i += ZEROS.length) {
    const n = Math.min(ZEROS.length, b.length - i);
    if (b.compare(ZEROS, 0, n, i, i + n) !== 0) return false;
  }
  return true;
}

function startBatch(id: number, files: RestoreFileJob[], ids: Buffer): void {
  const b: Batch = { targets: [], wants: new Map(), seen: new Set() };
  for (const job of files) {
    const t: Target = { job, fd: -1, failed: null, written: 0, end: 0 };
    b.targets.push(t);
    try {
      t.fd = openSync(job.temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    } catch (err) {
      t.failed = asError(err, `creating ${job.temp} failed`);
      continue;
    }
    let off = 0;
    for (let i = 0; i < job.blockSizes.length; i++) {
      const key = ids.toString("latin1", job.blocksAt + i * 32, job.blocksAt + i * 32 + 32);
      const size = job.blockSizes[i] as number;
      let w = b.wants.get(key);
      if (!w) {
        w = [];
        b.wants.set(key, w);
      }
      w.push({ t, offset: off, size });
      off += size;
    }
  }
  batches.set(id, b);
}

function onBlock(batch: number, id: Uint8Array, data: Uint8Array | null, error: WireError | null): void {
  const b = batches.get(batch);
  if (!b) return;
  const key = Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString("latin1");
  const w = b.wants.get(key);
  if (data) {
    garbage.add(2 * data.length);
    consumed += data.length;
    if (consumed >= CONSUMED_REPORT_BYTES) reportConsumed();
    else if (!reportScheduled) {
      // and whatever is left once the queue is drained: the main thread resumes reading only
      // when the forwarded bytes fall to half its limit, so bytes processed but never reported
      // (up to 2 MiB per worker) could keep it paused while every worker waits for blocks
      reportScheduled = true;
      setImmediate(reportConsumed);
    }
  }
  if (!w || b.seen.has(key)) return;
  b.seen.add(key);
  let plain: Buffer;
  try {
    if (!data) throw new CairnError(error?.code === "NOT_FOUND" ? "BLOCKS_MISSING" : "INTEGRITY", `block unavailable: ${error?.message ?? "missing"}`);
    plain = opener.open(id, data);
  } catch (err) {
    const ce = isCairnError(err) ? err : new CairnError("INTEGRITY", "block failed to open", { cause: err });
    // whatever went wrong with the block (tampered, swapped, from another archive), the file is not intact
    const e =
      ce.code === "BLOCKS_MISSING" || ce.code === "INTEGRITY"
        ? ce
        : new CairnError("INTEGRITY", `a block failed verification (${ce.message})`, { cause: ce, details: { blockId: Buffer.from(id).toString("hex") } });
    for (const x of w) x.t.failed ??= e;
    return;
  }
  const zero = isZero(plain);
  for (const x of w) {
    const t = x.t;
    if (t.failed) continue;
    if (plain.length !== x.size) {
      t.failed = new CairnError("INTEGRITY", `a block of ${t.job.path} has the wrong size`);
      continue;
    }
    try {
      if (!zero) {
        let o = 0;
        while (o < plain.length) o += writeSync(t.fd, plain, o, plain.length - o, x.offset + o);
        t.end = Math.max(t.end, x.offset + plain.length);
      }
      t.written += plain.length;
    } catch (err) {
      t.failed = asError(err, `writing ${t.job.temp} failed`);
    }
  }
}

function finish(t: Target, batchError: CairnError | null): RestoreFileResult {
  const j = t.job;
  try {
    if (t.failed) throw t.failed;
    if (batchError) throw batchError;
    if (t.written !== j.size) throw new CairnError("INTEGRITY", `${j.path}: the node did not serve every block`);
    if (t.end < j.size || fstatSync(t.fd).size !== j.size) ftruncateSync(t.fd, j.size);
    fchmodSync(t.fd, j.mode);
    const s = j.mtimeMs / 1000 + 5e-7;
    futimesSync(t.fd, s, s);
    closeSync(t.fd);
    t.fd = -1;
    return { i: j.i, ok: true, final: placeRestored(j.temp, j.dest, init.existing) };
  } catch (err) {
    if (t.fd >= 0) closeSync(t.fd);
    try {
      unlinkSync(j.temp);
    } catch {
      // never created, or already gone
    }
    const ce = asError(err, "restoring failed");
    return { i: j.i, ok: false, code: ce.code, message: ce.message };
  }
}

function endBatch(batch: number, error: WireError | null): void {
  const b = batches.get(batch);
  if (!b) return;
  batches.delete(batch);
  const be = error ? fromWire(error) : null;
  post({ t: "done", batch, results: b.targets.map((t) => finish(t, be)), consumed });
  consumed = 0;
}

parentPort?.on("message", (msg: ToRestoreWorker) => {
  try {
    if (msg.t === "batch") startBatch(msg.batch, msg.files, Buffer.from(msg.ids));
    else if (msg.t === "block") {
      const buf = Buffer.from(msg.buf);
      onBlock(msg.batch, buf.subarray(msg.idAt, msg.idAt + 32), msg.dataAt < 0 ? null : buf.subarray(msg.dataAt, msg.dataAt + msg.len), msg.error);
    } else if (msg.t === "end") endBatch(msg.batch, msg.error);
  } catch (err) {
    post({ t: "fatal", message: err instanceof Error ? err.message : String(err) });
  }
});
