/**
 * Pruning by the frequency-and-versions policy: for each file, the versions that
 * `versionsToKeep` (protocol/src/retention.ts, the one implementation) does not keep are
 * removed, with their block references; version heads that no file version points at any more
 * are removed when the same policy, applied to the heads, does not keep them. Server time only.
 */
import { type RetentionPolicy, versionsToKeep } from "@cairn/protocol";
import type { Archive } from "../archive/archive.js";

/** What pruning removed. */
export interface PruneResult {
  fileVersions: number;
  versions: number;
}

const PAGE = 500;

/** Prunes one archive at server time `now`. */
export function pruneArchive(a: Archive, policy: RetentionPolicy, now: number): PruneResult {
  const db = a.db;
  const files = db.prepare<[Buffer, number], { file_id: Buffer }>("SELECT DISTINCT file_id FROM file_versions WHERE file_id > ? ORDER BY file_id LIMIT ?");
  const versionsOf = db.prepare<[Buffer], { seq: number; time: number; deleted: number }>("SELECT seq, time, deleted FROM file_versions WHERE file_id = ?");
  const delFile = db.prepare("DELETE FROM file_versions WHERE file_id = ? AND seq = ?");
  const delRefs = db.prepare("DELETE FROM file_blocks WHERE file_id = ? AND seq = ?");
  let removed = 0;
  let after: Buffer = Buffer.alloc(0);
  for (;;) {
    const page = files.all(after, PAGE);
    if (page.length === 0) break;
    db.transaction(() => {
      for (const { file_id } of page) {
        const vs = versionsOf.all(file_id).map((v) => ({ seq: v.seq, time: v.time, deleted: v.deleted !== 0 }));
        const keep = versionsToKeep(vs, policy, now);
        for (const v of vs) {
          if (keep.has(v.seq)) continue;
          delFile.run(file_id, v.seq);
          delRefs.run(file_id, v.seq);
          removed++;
        }
      }
    })();
    after = (page[page.length - 1] as { file_id: Buffer }).file_id;
  }
  const heads = db.prepare<[], { seq: number; time: number }>("SELECT seq, time FROM versions").all();
  const keepHeads = versionsToKeep(
    heads.map((h) => ({ seq: h.seq, time: h.time, deleted: false })),
    policy,
    now,
  );
  const orphan = db.prepare<[number], { n: number }>("SELECT COUNT(*) AS n FROM file_versions WHERE seq = ?");
  const delHead = db.prepare("DELETE FROM versions WHERE seq = ?");
  let versions = 0;
  db.transaction(() => {
    for (const h of heads) {
      if (keepHeads.has(h.seq) || (orphan.get(h.seq)?.n ?? 0) > 0) continue;
      delHead.run(h.seq);
      versions++;
    }
  })();
  if (removed > 0 || versions > 0) a.recount();
  return { fileVersions: removed, versions };
}
