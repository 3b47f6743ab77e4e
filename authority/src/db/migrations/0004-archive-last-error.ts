/**
 * Migration 4 (RELIABILITY T20, "the console shows the warning"): each archive keeps the last
 * backup failure its device reported (`report-status` `lastError`: a node down or full, a token
 * refused, ROLLBACK_DETECTED), cleared when the device reports a backup that succeeded.
 */
import type { Migration } from "./migration.js";

const SCHEMA = `
ALTER TABLE archives ADD COLUMN last_error_code TEXT;
ALTER TABLE archives ADD COLUMN last_error_message TEXT;
ALTER TABLE archives ADD COLUMN last_error_at INTEGER;
`;

const migration: Migration = {
  version: 4,
  name: "archive-last-error",
  up(db) {
    db.exec(SCHEMA);
  },
};
export default migration;
