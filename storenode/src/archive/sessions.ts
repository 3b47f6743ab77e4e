/**
 * Upload sessions and the archive's writer lease. One writer per archive at a time: the session
 * holding an unexpired lease (server time) is the writer; `open` of another session is refused
 * with ARCHIVE_IN_USE until that lease expires or its session ends (T12). A session survives a
 * dropped connection: its acknowledged blocks and staged files stay, and re-opening it with its
 * id resumes it (T09).
 */
import type Database from "better-sqlite3";
import { CairnError, type Clock, newOpaqueId, type StagedFile } from "@cairn/protocol";
import { placeholders } from "../sql.js";

/** Result of opening a session. */
export interface OpenedSession {
  sessionId: string;
  leaseExpiresAt: number;
  staged: number;
  resumed: boolean;
}

interface SessionRow {
  id: string;
  device_guid: string;
  lease_expires_at: number;
  ended: number;
}

/** Rows per multi-row `session_blocks` insert. */
const PROTECT_ROWS = 64;

/** Sessions of one archive. */
export class Sessions {
  private readonly st;
  /** Lease expiry of sessions this process saw holding the lease (cleared whenever leases move). */
  private readonly leaseCache = new Map<string, number>();

  constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock,
    private readonly leaseTtlMs: number,
  ) {
    this.st = {
      get: db.prepare<[string], SessionRow>("SELECT id, device_guid, lease_expires_at, ended FROM sessions WHERE id = ?"),
      holder: db.prepare<[number], SessionRow>(
        "SELECT id, device_guid, lease_expires_at, ended FROM sessions WHERE ended = 0 AND lease_expires_at > ? ORDER BY lease_expires_at DESC LIMIT 1",
      ),
      insert: db.prepare("INSERT INTO sessions (id, device_guid, created_at, lease_expires_at, last_active_at) VALUES (?, ?, ?, ?, ?)"),
      lease: db.prepare("UPDATE sessions SET lease_expires_at = ?, last_active_at = ? WHERE id = ?"),
      end: db.prepare("UPDATE sessions SET ended = 1, lease_expires_at = 0 WHERE id = ?"),
      dropStaged: db.prepare("DELETE FROM staged_files WHERE session_id = ?"),
      dropProtect: db.prepare("DELETE FROM session_blocks WHERE session_id = ?"),
      protect: db.prepare("INSERT OR IGNORE INTO session_blocks (block_id, session_id) VALUES (?, ?)"),
      protectMany: db.prepare(`INSERT OR IGNORE INTO session_blocks (block_id, session_id) VALUES ${placeholders(PROTECT_ROWS, 2)}`),
      stage: db.prepare("INSERT OR REPLACE INTO staged_files (session_id, file_id, deleted, size, blocks, meta) VALUES (?, ?, ?, ?, ?, ?)"),
      stagedCount: db.prepare<[string], { n: number }>("SELECT COUNT(*) AS n FROM staged_files WHERE session_id = ?"),
      stale: db.prepare<[number, number], { id: string }>("SELECT id FROM sessions WHERE ended = 0 AND lease_expires_at <= ? AND last_active_at < ?"),
      purgeEnded: db.prepare("DELETE FROM sessions WHERE ended = 1 AND last_active_at < ?"),
    };
  }

  /** The session holding the lease now, if any. */
  holder(): string | null {
    return this.st.holder.get(this.clock.now())?.id ?? null;
  }

  /**
   * Opens a backup session for `deviceGuid`: resumes `requested` when it is an open session of
   * that device, otherwise starts a new one. `release` is the session this connection held
   * before (ended first). Throws ARCHIVE_IN_USE while another session holds the lease.
   */
  open(deviceGuid: string, requested: string | null, release: string | null): OpenedSession {
    this.leaseCache.clear();
    return this.db.transaction(() => {
      const now = this.clock.now();
      if (release && release !== requested) this.endNow(release, true);
      const prev = requested ? this.st.get.get(requested) : undefined;
      const resumable = prev !== undefined && prev.ended === 0 && prev.device_guid === deviceGuid;
      const holder = this.st.holder.get(now);
      if (holder && !(resumable && holder.id === requested)) {
        throw new CairnError("ARCHIVE_IN_USE", "another writer holds this archive's lease", { details: { leaseExpiresAt: holder.lease_expires_at } });
      }
      const leaseExpiresAt = now + this.leaseTtlMs;
      if (resumable && requested) {
        this.st.lease.run(leaseExpiresAt, now, requested);
        return { sessionId: requested, leaseExpiresAt, staged: this.stagedCount(requested), resumed: true };
      }
      const sessionId = newOpaqueId();
      this.st.insert.run(sessionId, deviceGuid, now, leaseExpiresAt, now);
      return { sessionId, leaseExpiresAt, staged: 0, resumed: false };
    })();
  }

  /**
   * Checks that `sessionId` is open and holds the lease (taking it again if it lapsed and no one
   * else took it), renewing it when half of it has run out. Returns the lease expiry.
   */
  requireLease(sessionId: string, renew = false): number {
    const now = this.clock.now();
    // The put path asks for every block: answer from memory while more than half the lease is left.
    const cached = this.leaseCache.get(sessionId);
    if (!renew && cached !== undefined && cached - now >= this.leaseTtlMs / 2) return cached;
    const s = this.st.get.get(sessionId);
    if (!s || s.ended) throw new CairnError("PROTOCOL_UNEXPECTED", "no such open session");
    if (s.lease_expires_at <= now) {
      const holder = this.st.holder.get(now);
      if (holder && holder.id !== sessionId) throw new CairnError("ARCHIVE_IN_USE", "another writer holds this archive's lease");
    }
    if (renew || s.lease_expires_at - now < this.leaseTtlMs / 2) {
      const exp = now + this.leaseTtlMs;
      this.st.lease.run(exp, now, sessionId);
      this.leaseCache.set(sessionId, exp);
      return exp;
    }
    this.leaseCache.set(sessionId, s.lease_expires_at);
    return s.lease_expires_at;
  }

  /** Ends a session: staged files and protections dropped, lease released. */
  end(sessionId: string, abort: boolean): void {
    this.db.transaction(() => this.endNow(sessionId, abort))();
  }

  private endNow(sessionId: string, _abort: boolean): void {
    this.leaseCache.delete(sessionId);
    // Staged files that were never committed are discarded whether or not the caller aborts:
    // only `commit` makes files visible.
    this.st.dropStaged.run(sessionId);
    this.st.dropProtect.run(sessionId);
    this.st.end.run(sessionId);
  }

  /** Protects blocks from garbage collection for as long as the session is open. */
  protect(sessionId: string, ids: Iterable<Buffer>): void {
    this.db.transaction(() => this.protectNow(sessionId, ids))();
  }

  /** Multi-row inserts: one statement per {@link PROTECT_ROWS} blocks (the put path protects every block). */
  private protectNow(sessionId: string, ids: Iterable<Buffer>): void {
    const args: (Buffer | string)[] = [];
    for (const id of ids) {
      args.push(id, sessionId);
      if (args.length === 2 * PROTECT_ROWS) {
        this.st.protectMany.run(...args);
        args.length = 0;
      }
    }
    for (let i = 0; i < args.length; i += 2) this.st.protect.run(args[i], args[i + 1]);
  }

  /** Stages file entries (a file staged again replaces its earlier entry); returns the session's count. */
  stage(sessionId: string, files: readonly StagedFile[]): number {
    return this.db.transaction(() => {
      const ids: Buffer[] = [];
      for (const f of files) {
        this.st.stage.run(sessionId, f.fileId, f.deleted ? 1 : 0, f.size, f.blocks, f.meta);
        for (let o = 0; o < f.blocks.length; o += 32) ids.push(f.blocks.subarray(o, o + 32));
      }
      this.protectNow(sessionId, ids);
      return this.stagedCount(sessionId);
    })();
  }

  /** Files staged in a session. */
  stagedCount(sessionId: string): number {
    return this.st.stagedCount.get(sessionId)?.n ?? 0;
  }

  /**
   * Ends sessions idle (and unleased) for longer than `maxIdleMs`, except those in `live` (a
   * connection holds them); returns how many.
   */
  expireStale(maxIdleMs: number, live: ReadonlySet<string> = new Set()): number {
    const now = this.clock.now();
    const stale = this.st.stale.all(now, now - maxIdleMs).filter((s) => !live.has(s.id));
    this.db.transaction(() => {
      for (const s of stale) this.endNow(s.id, true);
      this.st.purgeEnded.run(now - maxIdleMs);
    })();
    return stale.length;
  }
}
