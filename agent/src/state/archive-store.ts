/**
 * Archive rows of the agent database: one per destination this device backs up to, holding the
 * endpoint and storage token, the last committed seq and manifest hash (rollback detection,
 * T20), the upload session to resume, and the figures `status` shows.
 */
import type { Db } from "./agent-db.js";

/** One archive as the agent knows it. */
export interface ArchiveRow {
  archiveGuid: string;
  destinationGuid: string;
  destinationName: string;
  serverGuid: string | null;
  url: string;
  fingerprint: string;
  token: string;
  tokenExpiresAt: number;
  lastSeq: number;
  lastManifestHash: Buffer | null;
  sessionId: string | null;
  lastBackup: number | null;
  lastCompletedBackup: number | null;
  selectedFiles: number;
  selectedBytes: number;
  todoFiles: number;
  todoBytes: number;
  lastFullScan: number | null;
}

const COLS = `archive_guid AS archiveGuid, destination_guid AS destinationGuid, destination_name AS destinationName, server_guid AS serverGuid,
  url, fingerprint, token, token_expires_at AS tokenExpiresAt, last_seq AS lastSeq, last_manifest_hash AS lastManifestHash,
  session_id AS sessionId, last_backup AS lastBackup, last_completed_backup AS lastCompletedBackup, selected_files AS selectedFiles,
  selected_bytes AS selectedBytes, todo_files AS todoFiles, todo_bytes AS todoBytes, last_full_scan AS lastFullScan`;

/** Reads and writes archive rows. */
export class ArchiveStore {
  constructor(private readonly db: Db) {}

  /** Every archive. */
  list(): ArchiveRow[] {
    return this.db.prepare(`SELECT ${COLS} FROM archives ORDER BY destination_name, archive_guid`).all() as ArchiveRow[];
  }

  /** One archive. */
  get(archiveGuid: string): ArchiveRow | undefined {
    return this.db.prepare(`SELECT ${COLS} FROM archives WHERE archive_guid = ?`).get(archiveGuid) as ArchiveRow | undefined;
  }

  /** Creates or updates the endpoint and token of an archive (keeps its history). */
  upsertEndpoint(a: {
    archiveGuid: string;
    destinationGuid: string;
    destinationName?: string;
    serverGuid?: string | null;
    url: string;
    fingerprint: string;
    token: string;
    tokenExpiresAt: number;
  }): void {
    this.db
      .prepare(
        `INSERT INTO archives (archive_guid, destination_guid, destination_name, server_guid, url, fingerprint, token, token_expires_at)
         VALUES (@archiveGuid, @destinationGuid, @destinationName, @serverGuid, @url, @fingerprint, @token, @tokenExpiresAt)
         ON CONFLICT(archive_guid) DO UPDATE SET destination_guid = excluded.destination_guid, destination_name = excluded.destination_name,
           server_guid = excluded.server_guid, url = excluded.url, fingerprint = excluded.fingerprint, token = excluded.token,
           token_expires_at = excluded.token_expires_at`,
      )
      .run({ destinationName: "", serverGuid: null, ...a });
  }

  /** Updates selected fields. */
  update(archiveGuid: string, fields: Partial<Omit<ArchiveRow, "archiveGuid">>): void {
    const map: Record<string, string> = {
      destinationGuid: "destination_guid",
      destinationName: "destination_name",
      serverGuid: "server_guid",
      url: "url",
      fingerprint: "fingerprint",
      token: "token",
      tokenExpiresAt: "token_expires_at",
      lastSeq: "last_seq",
      lastManifestHash: "last_manifest_hash",
      sessionId: "session_id",
      lastBackup: "last_backup",
      lastCompletedBackup: "last_completed_backup",
      selectedFiles: "selected_files",
      selectedBytes: "selected_bytes",
      todoFiles: "todo_files",
      todoBytes: "todo_bytes",
      lastFullScan: "last_full_scan",
    };
    const keys = Object.keys(fields).filter((k) => map[k] !== undefined);
    if (keys.length === 0) return;
    const sets = keys.map((k) => `${map[k]} = @${k}`).join(", ");
    this.db.prepare(`UPDATE archives SET ${sets} WHERE archive_guid = @archiveGuid`).run({ ...fields, archiveGuid });
  }

  /** Removes an archive row and its cache. */
  remove(archiveGuid: string): void {
    this.db.transaction(() => {
      this.db.prepare("DELETE FROM archives WHERE archive_guid = ?").run(archiveGuid);
      this.db.prepare("DELETE FROM files WHERE archive = ?").run(archiveGuid);
      this.db.prepare("DELETE FROM pending WHERE archive = ?").run(archiveGuid);
    })();
  }
}
