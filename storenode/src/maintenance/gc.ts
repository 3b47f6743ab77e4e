/**
 * Garbage collection of one archive's blocks (RELIABILITY.md §6.3, T08, T13, T14, T16):
 * 1. refuse when the server clock is earlier than the last GC (CLOCK_WENT_BACKWARDS);
 * 2. refuse when a block a committed file version references is missing or damaged
 *    (STORE_INCONSISTENT, naming them): collecting then could hide the damage;
 * 3. mark: blocks no committed file version and no open session references, stored longer ago
 *    than the grace period (server time), go to a temporary candidate table;
 * 4. sweep: page by page, each page re-checked against the live references and deleted from the
 *    index in one synchronous step, so a commit or `have` that happened meanwhile wins;
 * 5. the bytes are reclaimed by compaction afterwards (index entry removed before data).
 * Idempotent: running it again after a crash at any step finishes the job.
 */
import { CairnError } from "@cairn/protocol";
import type { Archive } from "../archive/archive.js";
import type { CrashPoint } from "../crash.js";

/** Options of {@link collectGarbage}. */
export interface GcOptions {
  now: number;
  graceMs: number;
  crash: CrashPoint;
  /** Test hook: runs after the mark phase (T13 pauses here). */
  afterMark?: () => Promise<void>;
}

const PAGE = 1000;

/** Blocks committed versions reference but the store lacks or holds damaged (hex ids). */
export function missingReferencedBlocks(a: Archive, limit = 1000): { ids: string[]; count: number } {
  const refs = a.db.prepare<[Buffer, number], { block_id: Buffer }>("SELECT DISTINCT block_id FROM file_blocks WHERE block_id > ? ORDER BY block_id LIMIT ?");
  const ids: string[] = [];
  let count = 0;
  let after: Buffer = Buffer.alloc(0);
  for (;;) {
    const page = refs.all(after, PAGE);
    if (page.length === 0) break;
    for (const r of page) {
      if (a.store.has(r.block_id)) continue;
      count++;
      if (ids.length < limit) ids.push(r.block_id.toString("hex"));
    }
    after = (page[page.length - 1] as { block_id: Buffer }).block_id;
  }
  return { ids, count };
}

/** Runs GC on one archive; returns what was removed from the index. */
export async function collectGarbage(a: Archive, opts: GcOptions): Promise<{ removedBlocks: number }> {
  const last = a.getMeta("lastGcAt");
  if (last !== undefined && last !== null && opts.now < last) {
    throw new CairnError("CLOCK_WENT_BACKWARDS", "the server clock is earlier than the last garbage collection; refusing", { details: { lastGcAt: last } });
  }
  const missing = missingReferencedBlocks(a);
  if (missing.count > 0) {
    const named = missing.ids.slice(0, 3).join(", ") + (missing.count > 3 ? ", …" : "");
    throw new CairnError("STORE_INCONSISTENT", `${missing.count} referenced block(s) are missing or damaged (${named}); garbage collection refused`, {
      details: { missing: missing.ids, count: missing.count },
    });
  }
  const db = a.db;
  const referenced = db.prepare<[Buffer, Buffer], { n: number }>(
    "SELECT (EXISTS (SELECT 1 FROM file_blocks WHERE block_id = ?) OR EXISTS (SELECT 1 FROM session_blocks WHERE block_id = ?)) AS n",
  );
  const isRef = (id: Buffer) => (referenced.get(id, id)?.n ?? 0) !== 0;
  db.exec("CREATE TEMP TABLE IF NOT EXISTS gc_candidates (id BLOB PRIMARY KEY) WITHOUT ROWID; DELETE FROM gc_candidates;");
  const addCandidate = db.prepare("INSERT OR IGNORE INTO gc_candidates (id) VALUES (?)");
  const cutoff = opts.now - opts.graceMs;
  let after: Buffer | null = null;
  for (;;) {
    const page = a.store.list(after, PAGE);
    if (page.length === 0) break;
    db.transaction(() => {
      for (const b of page) if (b.storedAt <= cutoff && !isRef(b.id)) addCandidate.run(b.id);
    })();
    after = page[page.length - 1]?.id ?? null;
    await new Promise<void>((r) => setImmediate(r));
  }
  opts.crash("gc.afterMark");
  if (opts.afterMark) await opts.afterMark();
  const candidates = db.prepare<[Buffer, number], { id: Buffer }>("SELECT id FROM gc_candidates WHERE id > ? ORDER BY id LIMIT ?");
  let removedBlocks = 0;
  let from: Buffer = Buffer.alloc(0);
  for (;;) {
    const page = candidates.all(from, PAGE);
    if (page.length === 0) break;
    // One synchronous step: re-check live references, then delete the index entries.
    const dead = page.map((r) => r.id).filter((id) => !isRef(id));
    removedBlocks += a.store.deleteIndex(dead);
    from = (page[page.length - 1] as { id: Buffer }).id;
    await new Promise<void>((r) => setImmediate(r));
  }
  db.exec("DELETE FROM gc_candidates");
  opts.crash("gc.afterIndexWrite");
  a.setMeta("lastGcAt", opts.now);
  a.recount();
  return { removedBlocks };
}
