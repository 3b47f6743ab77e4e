/**
 * Migration 3 (backup status emails, seed 001 "Device backup defaults › Reporting"): when each
 * user was last sent the backup status email, so the sender mails a user at most every
 * `backupStatusEmailFreqInMinutes` across restarts. One row per user who was ever sent one.
 */
import type { Migration } from "./migration.js";

const SCHEMA = `
CREATE TABLE user_status_emails (
  user_id INTEGER PRIMARY KEY REFERENCES users(user_id),
  last_sent_at INTEGER NOT NULL
) STRICT;
`;

const migration: Migration = {
  version: 3,
  name: "status-emails",
  up(db) {
    db.exec(SCHEMA);
  },
};
export default migration;
