/**
 * Staging of a running version's entries: finished entries are collected in batches (≤ 1000 or
 * 2 MiB), each batch written to the `pending` table in one SQLite transaction and sent with one
 * `stage-files` call (in order, one at a time). When the node lost the session, everything is
 * staged again from the pending table.
 */
import type { StagedFile } from "@cairn/protocol";
import type { DataSession } from "../net/data-session.js";
import { type FileCache, KIND, type PendingEntry } from "../state/file-cache.js";

const STAGE_BATCH_BYTES = 2 * 1024 * 1024;
const STAGE_BATCH_FILES = 1000;

/** Stages entries for one run. */
export class Stager {
  private buf: PendingEntry[] = [];
  private bytes = 0;
  private chain: Promise<void> = Promise.resolve();
  /** Entries staged so far. */
  staged = 0;

  constructor(
    private readonly cache: FileCache,
    private readonly session: () => DataSession,
    private readonly fail: (err: unknown) => void,
  ) {}

  /** Adds one finished entry (sent when its batch is full). */
  add(p: PendingEntry): void {
    this.buf.push(p);
    this.bytes += (p.blocks?.length ?? 0) + (p.meta?.length ?? 0) + 64;
    if (this.buf.length >= STAGE_BATCH_FILES || this.bytes >= STAGE_BATCH_BYTES) this.flush();
  }

  /** Writes and sends the current batch. */
  flush(): void {
    if (this.buf.length === 0) return;
    const batch = this.buf;
    this.buf = [];
    this.bytes = 0;
    this.cache.addPending(batch);
    this.staged += batch.length;
    const files = batch.map(toStaged);
    this.chain = this.chain.then(async () => {
      const s = this.session();
      await s.call("stage-files", { sessionId: s.sessionId ?? "", files });
    });
    this.chain.catch((err: unknown) => this.fail(err));
  }

  /** Resolves when every batch sent so far is staged (rejects with the first failure). */
  drain(): Promise<void> {
    return this.chain;
  }

  /** After a reconnect: when the node lost the session, stage everything again from the pending table. */
  async restage(resumed: boolean): Promise<void> {
    if (resumed) return;
    const s = this.session();
    let after = 0;
    for (;;) {
      const rows = this.cache.pendingAfter(after, 1000);
      if (rows.length === 0) break;
      after = (rows[rows.length - 1] as { seqno: number }).seqno;
      // called from inside the reconnect: retry off, we are the retry
      await s.call("stage-files", { sessionId: s.sessionId ?? "", files: rows.map(toStaged) }, { retry: false });
    }
  }
}

function toStaged(p: PendingEntry): StagedFile {
  return {
    fileId: p.fileId,
    deleted: p.deleted,
    size: p.deleted || p.kind !== KIND.FILE ? 0 : p.size,
    blocks: p.blocks ?? Buffer.alloc(0),
    meta: p.deleted ? null : p.meta,
  };
}
