/**
 * Web restore sessions (API.md §8 step 5): one per device restore a user starts, holding the
 * source archive's opened key in memory, the catalogs (file trees) loaded for it, and nothing
 * else. A session belongs to the user who opened it, ends after 30 minutes idle (its keys are
 * overwritten), and is found by its id or, for size polling that carries none, by the user and
 * device.
 */
import { type ArchiveKeys, type Clock, type KeyPolicy, newOpaqueId } from "@cairn/protocol";
import { type ArchiveSource, type Catalog, loadCatalog } from "./catalog.js";
import { wipe } from "./archive-keys.js";

/** Sessions end after this long without use. */
export const SESSION_IDLE_MS = 30 * 60_000;
/** Most open sessions per user (the oldest goes first). */
export const MAX_SESSIONS_PER_USER = 20;
/** Catalogs kept per session. */
const MAX_CATALOGS = 3;

/** The source archive of a session, as the restore checks need it. */
export interface RestoreArchive {
  archiveId: number;
  archiveGuid: string;
  deviceId: number;
  deviceGuid: string;
  deviceName: string;
  destinationId: number;
  destinationGuid: string;
  destinationKind: "cluster" | "provider";
  serverId: number | null;
  serverGuid: string | null;
  /** The archive's owner (whose device it is). */
  userId: number;
  userUid: string;
  orgId: number;
  orgUid: string;
  orgPath: string;
}

/** An open session. */
export interface RestoreSession {
  id: string;
  /** The user who opened it (the only one who may use it). */
  userId: number;
  archive: RestoreArchive;
  archiveKey: Buffer;
  keys: ArchiveKeys;
  /** Server-side decryption of file contents is allowed (the org's web restore switch). */
  contentAllowed: boolean;
  /** The policy of the user's key record the archive key was opened under (jobs check it again). */
  keyPolicy: KeyPolicy;
  lastUsed: number;
  catalogs: Map<string, Promise<Catalog>>;
}

/** The open sessions of one authority. */
export class RestoreSessions {
  private readonly sessions = new Map<string, RestoreSession>();

  constructor(
    private readonly clock: Clock,
    private readonly source: () => ArchiveSource,
  ) {}

  private sweep(): void {
    const now = this.clock.now();
    for (const s of this.sessions.values()) if (now - s.lastUsed > SESSION_IDLE_MS) this.end(s);
  }

  /** Opens a session (the caller checked rights and opened the key). */
  open(userId: number, archive: RestoreArchive, archiveKey: Buffer, keys: ArchiveKeys, contentAllowed: boolean, keyPolicy: KeyPolicy): RestoreSession {
    this.sweep();
    const mine = [...this.sessions.values()].filter((s) => s.userId === userId).sort((a, b) => a.lastUsed - b.lastUsed);
    for (const s of mine.slice(0, Math.max(0, mine.length - MAX_SESSIONS_PER_USER + 1))) this.end(s);
    const s: RestoreSession = {
      id: newOpaqueId(),
      userId,
      archive,
      archiveKey,
      keys,
      contentAllowed,
      keyPolicy,
      lastUsed: this.clock.now(),
      catalogs: new Map(),
    };
    this.sessions.set(s.id, s);
    return s;
  }

  /** The caller's session with this id (undefined for another user's, like an unknown one). */
  get(userId: number, id: string): RestoreSession | undefined {
    this.sweep();
    const s = this.sessions.get(id);
    if (s === undefined || s.userId !== userId) return undefined;
    s.lastUsed = this.clock.now();
    return s;
  }

  /** The caller's newest session on a device (size polling sends no session id). */
  latestFor(userId: number, deviceGuid: string): RestoreSession | undefined {
    this.sweep();
    let best: RestoreSession | undefined;
    for (const s of this.sessions.values())
      if (s.userId === userId && s.archive.deviceGuid === deviceGuid && (best === undefined || s.lastUsed >= best.lastUsed)) best = s;
    if (best) best.lastUsed = this.clock.now();
    return best;
  }

  /** The tree at `at` (null: latest), loaded once per session. */
  catalog(s: RestoreSession, at: number | null, showDeleted: boolean): Promise<Catalog> {
    const key = `${at ?? "latest"}:${showDeleted}`;
    let c = s.catalogs.get(key);
    if (c === undefined) {
      c = loadCatalog(this.source(), s.archive.archiveGuid, s.keys, at, showDeleted);
      c.catch(() => s.catalogs.delete(key));
      s.catalogs.set(key, c);
      while (s.catalogs.size > MAX_CATALOGS) s.catalogs.delete(s.catalogs.keys().next().value as string);
    }
    return c;
  }

  /** Ends a session and overwrites its keys (jobs keep their own copies). */
  end(s: RestoreSession): void {
    this.sessions.delete(s.id);
    s.catalogs.clear();
    wipe(s.archiveKey, s.keys);
  }

  /** Ends every session of an archive (purged) or of everything (shutdown). */
  endWhere(pred: (s: RestoreSession) => boolean): void {
    for (const s of [...this.sessions.values()]) if (pred(s)) this.end(s);
  }
}
