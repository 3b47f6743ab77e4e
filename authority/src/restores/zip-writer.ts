/**
 * Streams a zip with archiver (`ZipArchive`, STORE: restored files are usually compressed
 * already, and a stored zip's length is known before the first byte). {@link zipLength} computes
 * that length exactly from the entry names and sizes (local header + data + data descriptor per
 * file, central directory, end record, ZIP64 records past 4 GiB), so the response carries
 * `Content-Length` and the job reports the expected size: a cut download is detectable, and a
 * truncated zip fails `unzip -t` besides (RELIABILITY.md T11, DECISIONS.md).
 */
import type { Readable, Writable } from "node:stream";
import { CairnError, isCairnError } from "@cairn/protocol";
import { ZipArchive } from "archiver";

/** One entry of a zip. */
export type ZipItem =
  | { kind: "dir"; name: string; mtimeMs: number; mode: number }
  | { kind: "file"; name: string; size: number; mtimeMs: number; mode: number; open: () => Readable }
  | { kind: "text"; name: string; data: Buffer; mtimeMs: number };

/** `details.side` of the error when the client went away (not our failure). */
export const CLIENT_GONE = "client";

/** Whether a zip failed because the client stopped reading (the download may be tried again). */
export function clientWentAway(err: unknown): boolean {
  return isCairnError(err, "CONNECTION_LOST") && err.details?.side === CLIENT_GONE;
}

const MAGIC = 0xffffffff;
const LFH = 30;
const CFH = 46;
const DD = 16;
const DD64 = 24;
const ZIP64_EXTRA = 28;
const EOCD = 22;
const ZIP64_EOCD = 56 + 20;

const nameBytes = (i: ZipItem) => Buffer.byteLength(i.kind === "dir" ? `${i.name}/` : i.name, "utf8");

/** The exact byte length archiver writes for `items` (STORE, no comment, no forced ZIP64). */
export function zipLength(items: readonly ZipItem[]): number {
  let offset = 0;
  let central = 0;
  for (const i of items) {
    const n = nameBytes(i);
    const fileOffset = offset;
    const size = i.kind === "file" ? i.size : i.kind === "text" ? i.data.length : 0;
    offset += LFH + n + size;
    if (i.kind === "file") offset += size > MAGIC ? DD64 : DD;
    central += CFH + n + (size > MAGIC || fileOffset > MAGIC ? ZIP64_EXTRA : 0);
  }
  const zip64 = items.length > 0xffff || central > MAGIC || offset > MAGIC;
  return offset + central + (zip64 ? ZIP64_EOCD : 0) + EOCD;
}

/** DOS times start in 1980: older (or invalid) times are written as 1980-01-01. */
function zipDate(ms: number): Date {
  return new Date(Number.isFinite(ms) && ms >= Date.UTC(1980, 0, 2) ? ms : Date.UTC(1980, 0, 2));
}

/** Writes the zip of `items` to `out`; resolves with the bytes written, rejects on any failure. */
export function writeZip(out: Writable, items: readonly ZipItem[], signal?: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const zip = new ZipArchive({ store: true, highWaterMark: 1024 * 1024 });
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      zip.abort();
      reject(err instanceof Error ? err : new CairnError("RESTORE_FAILED", String(err)));
    };
    signal?.addEventListener("abort", () => fail(new CairnError("CANCELLED", "the restore was canceled")), { once: true });
    zip.on("error", fail);
    zip.on("warning", fail);
    out.on("error", fail);
    let finished = false;
    out.on("finish", () => {
      finished = true;
      if (!failed) resolve(zip.pointer());
    });
    // closed before everything was flushed to the client (even when archiver had written it all)
    out.on("close", () => {
      if (!finished) fail(new CairnError("CONNECTION_LOST", "the client closed the download", { details: { side: CLIENT_GONE } }));
    });
    zip.pipe(out);
    // One entry at a time: archiver pipes every appended stream at once (into a PassThrough),
    // which would start reading every file's blocks together; the next entry is appended only
    // when the previous one is written, so at most one file's blocks are in memory.
    let at = 0;
    const next = () => {
      if (failed) return;
      const i = items[at++];
      if (i === undefined) {
        zip.finalize().catch(fail);
        return;
      }
      const date = zipDate(i.mtimeMs);
      if (i.kind === "dir") zip.append(Buffer.alloc(0), { name: i.name, type: "directory", date, mode: i.mode & 0o7777, store: true });
      else if (i.kind === "text") zip.append(i.data, { name: i.name, date, mode: 0o644, store: true });
      else {
        const s = i.open();
        s.once("error", fail);
        zip.append(s, { name: i.name, date, mode: i.mode & 0o7777, store: true });
      }
    };
    zip.on("entry", next);
    next();
  });
}
