/**
 * Reads one file's content for a zip or server restore: fetches its blocks from the storage node
 * in small batches (`archive-get`, at most {@link BATCH_BLOCKS} blocks and
 * {@link BATCH_BYTES} per request, one batch ahead), opens each with the session's archive keys
 * in memory (`openBlock`: AEAD, plus the check that the plaintext's keyed id is the block id),
 * checks its length against the file's metadata, and yields it. Memory stays bounded whatever the
 * file's size; nothing is written anywhere. A missing or damaged block, or content longer than
 * the file claims, fails the file (and so the restore): never a silently wrong file.
 */
import { Readable } from "node:stream";
import { type ArchiveKeys, CairnError, isCairnError, openBlock } from "@cairn/protocol";
import type { ArchiveSource, CatalogEntry } from "./catalog.js";

/** Most blocks per `archive-get`. */
export const BATCH_BLOCKS = 8;
/** Most plaintext bytes per `archive-get` (by the metadata's block sizes). */
export const BATCH_BYTES = 24 * 1024 * 1024;

/** Counts what a restore has streamed, and stops it beyond a limit (T37: also on streamed bytes). */
export interface ByteMeter {
  add(n: number): void;
}

function batches(e: CatalogEntry): Buffer[] {
  const n = e.blocks.length / 32;
  const out: Buffer[] = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const len = e.blockSizes[i] ?? 0;
    if (i > start && (i - start >= BATCH_BLOCKS || bytes + len > BATCH_BYTES)) {
      out.push(e.blocks.subarray(start * 32, i * 32));
      start = i;
      bytes = 0;
    }
    bytes += len;
  }
  if (n > start) out.push(e.blocks.subarray(start * 32, n * 32));
  return out;
}

async function fetchBatch(src: ArchiveSource, archiveGuid: string, ids: Buffer, signal?: AbortSignal): Promise<Map<string, Buffer>> {
  signal?.throwIfAborted();
  const unique = new Map<string, Buffer>();
  for (let o = 0; o < ids.length; o += 32) unique.set(ids.toString("hex", o, o + 32), ids.subarray(o, o + 32));
  const got = new Map<string, Buffer>();
  let failure: string | null = null;
  await src.getBlocks(archiveGuid, Buffer.concat([...unique.values()]), (id, data, error) => {
    if (data === null) failure ??= error ?? "missing";
    else got.set(id.toString("hex"), data);
  });
  if (failure !== null) throw new CairnError("INTEGRITY", `a block of the file could not be read from the storage node: ${failure}`);
  return got;
}

/** The plaintext of a file, block by block. */
export async function* fileContent(
  src: ArchiveSource,
  archiveGuid: string,
  keys: ArchiveKeys,
  e: CatalogEntry,
  meter?: ByteMeter,
  signal?: AbortSignal,
): AsyncGenerator<Buffer> {
  let written = 0;
  const list = batches(e);
  let next: Promise<Map<string, Buffer>> | null = list.length > 0 ? fetchBatch(src, archiveGuid, list[0] as Buffer, signal) : null;
  let blockIndex = 0;
  for (let b = 0; b < list.length; b++) {
    const got = await (next as Promise<Map<string, Buffer>>);
    next = b + 1 < list.length ? fetchBatch(src, archiveGuid, list[b + 1] as Buffer, signal) : null;
    // a failed prefetch must not surface as an unhandled rejection before we reach it
    next?.catch(() => undefined);
    const ids = list[b] as Buffer;
    for (let o = 0; o < ids.length; o += 32, blockIndex++) {
      const id = ids.subarray(o, o + 32);
      const sealed = got.get(id.toString("hex"));
      if (sealed === undefined) throw new CairnError("INTEGRITY", "the storage node did not send a block of the file");
      const plain = openBlock(keys, id, sealed);
      const expected = e.blockSizes[blockIndex];
      if (expected !== undefined && plain.length !== expected) throw new CairnError("INTEGRITY", "a block's length differs from the file's metadata");
      written += plain.length;
      if (written > e.size) throw new CairnError("INTEGRITY", "the file's content is longer than its metadata says");
      meter?.add(plain.length);
      yield plain;
    }
  }
  if (written !== e.size) throw new CairnError("INTEGRITY", "the file's content is shorter than its metadata says");
}

/** {@link fileContent} as a byte stream (reads only as fast as the consumer takes it). */
export function fileStream(src: ArchiveSource, archiveGuid: string, keys: ArchiveKeys, e: CatalogEntry, meter?: ByteMeter, signal?: AbortSignal): Readable {
  return Readable.from(naming(fileContent(src, archiveGuid, keys, e, meter, signal), e.path), { objectMode: false, highWaterMark: 1024 * 1024 });
}

/** The file's path in an integrity failure, so that the job's message says which file it was. */
async function* naming(content: AsyncGenerator<Buffer>, path: string): AsyncGenerator<Buffer> {
  try {
    yield* content;
  } catch (err) {
    if (isCairnError(err, "INTEGRITY")) throw new CairnError("INTEGRITY", `${JSON.stringify(path)}: ${err.message}`, { cause: err });
    throw err;
  }
}
