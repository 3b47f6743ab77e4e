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

/** One static UPDATE per updatable field (SQL is never built from values). */
const UPDATES: Record<string, string> = {
  destinationGuid: "UPDATE archives SET destination_guid = @value WHERE archive_guid = @archiveGuid",
  destinationName: "UPDATE archives SET destination_name = @value WHERE archive_guid = @archiveGuid",
  serverGuid: "UPDATE archives SET server_guid = @value WHERE archive_guid = @archiveGuid",
  url: "UPDATE archives SET url = @value WHERE archive_guid = @archiveGuid",
  fingerprint: "UPDATE archives SET fingerprint = @value WHERE archive_guid = @archiveGuid",
  token: "UPDATE archives SET token = @value WHERE archive_guid = @archiveGuid",
  tokenExpiresAt: "UPDATE archives SET token_expires_at = @value WHERE archive_guid = @archiveGuid",
  lastSeq: "UPDATE archives SET last_seq = @value WHERE archive_guid = @archiveGuid",
  lastManifestHash: "UPDATE archives SET last_manifest_hash = @value WHERE archive_guid = @archiveGuid",
  sessionId: "UPDATE archives SET session_id = @value WHERE archive_guid = @archiveGuid",
  lastBackup: "UPDATE archives SET last_backup = @value WHERE archive_guid = @archiveGuid",
  lastCompletedBackup: "UPDATE archives SET last_completed_backup = @value WHERE archive_guid = @archiveGuid",
  selectedFiles: "UPDATE archives SET selected_files = @value WHERE archive_guid = @archiveGuid",
  selectedBytes: "UPDATE archives SET selected_bytes = @value WHERE archive_guid = @archiveGuid",
  todoFiles: "UPDATE archives SET todo_files = @value WHERE archive_guid = @archiveGuid",
  todoBytes: "UPDATE archives SET todo_bytes = @value WHERE archive_guid = @archiveGuid",
  lastFullScan: "UPDATE archives SET last_full_scan = @value WHERE archive_guid = @archiveGuid",
};

/** Reads and writes archive rows. */
export class ArchiveStore {
  constructor(private readonly db: Db) {}

  /** Every archive. */
  list(): ArchiveRow[] {
    return this.db
      .prepare(
        "SELECT archive_guid AS archiveGuid, destination_guid AS destinationGuid, destination_name AS destinationName, server_guid AS serverGuid, url, fingerprint, token, token_expires_at AS tokenExpiresAt, last_seq AS lastSeq, last_manifest_hash AS lastManifestHash, session_id AS sessionId, last_backup AS lastBackup, last_completed_backup AS lastCompletedBackup, selected_files AS selectedFiles, selected_bytes AS selectedBytes, todo_files AS todoFiles, todo_bytes AS todoBytes, last_full_scan AS lastFullScan FROM archives ORDER BY destination_name, archive_guid",
      )
      .all() as ArchiveRow[];
  }

  /** One archive. */
  get(archiveGuid: string): ArchiveRow | undefined {
    return this.db
      .prepare(
        "SELECT archive_guid AS archiveGuid, destination_guid AS destinationGuid, destination_name AS destinationName, server_guid AS serverGuid, url, fingerprint, token, token_expires_at AS tokenExpiresAt, last_seq AS lastSeq, last_manifest_hash AS lastManifestHash, session_id AS sessionId, last_backup AS lastBackup, last_completed_backup AS lastCompletedBackup, selected_files AS selectedFiles, selected_bytes AS selectedBytes, todo_files AS todoFiles, todo_bytes AS todoBytes, last_full_scan AS lastFullScan FROM archives WHERE archive_guid = ?",
      )
      .get(archiveGuid) as ArchiveRow | undefined;
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
    this.db.transaction(() => {
      for (const [k, value] of Object.entries(fields)) {
        const sql = UPDATES[k];
        if (sql) this.db.prepare(sql).run({ value, archiveGuid });
      }
    })();
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
