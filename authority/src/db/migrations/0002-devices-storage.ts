/**
 * Migration 2 (devices and storage, issue 5 part B): what the device list needs to page through
 * 100,000 devices fast, kept consistent by triggers rather than by every code path:
 *
 * - `devices.org_id`: the device's org (its user's), set on insert and followed when the user
 *   moves (`users.org_id` changes), so list filters and scopes need no join;
 * - `devices.last_completed_backup_at`: the newest completed backup over the device's archives
 *   that are not purged, followed on every archive insert and figure update (alert states and
 *   warning / critical counts read it without a subquery);
 * - indexes for the list's sort keys (each led by `active`, the usual filter), a covering one for
 *   the warning and critical counts, and archives by store point (placement, store point figures).
 */
import type { Migration } from "./migration.js";

const SCHEMA = `
ALTER TABLE devices ADD COLUMN org_id INTEGER REFERENCES orgs(org_id);
ALTER TABLE devices ADD COLUMN last_completed_backup_at INTEGER;
UPDATE devices SET org_id = (SELECT u.org_id FROM users u WHERE u.user_id = devices.user_id),
  last_completed_backup_at = (SELECT max(a.last_completed_backup_at) FROM archives a WHERE a.device_id = devices.device_id AND a.purged_at IS NULL);
CREATE INDEX devices_org ON devices(org_id, device_id);
CREATE INDEX devices_active_id ON devices(active, device_id);
CREATE INDEX devices_active_name ON devices(active, name COLLATE NOCASE, device_id);
CREATE INDEX devices_active_connected ON devices(active, last_connected_at, device_id);
CREATE INDEX devices_active_completed ON devices(active, last_completed_backup_at, device_id);
CREATE INDEX devices_with_overrides ON devices(device_id) WHERE settings_json IS NOT NULL;
CREATE INDEX devices_staleness ON devices(active, org_id, last_completed_backup_at, created_at, settings_json);
CREATE INDEX archives_store_point ON archives(store_point_id);

CREATE TRIGGER devices_org_on_insert AFTER INSERT ON devices WHEN NEW.org_id IS NULL
BEGIN
  UPDATE devices SET org_id = (SELECT u.org_id FROM users u WHERE u.user_id = NEW.user_id) WHERE device_id = NEW.device_id;
END;
CREATE TRIGGER devices_org_on_user_move AFTER UPDATE OF org_id ON users
BEGIN
  UPDATE devices SET org_id = NEW.org_id WHERE user_id = NEW.user_id;
END;
CREATE TRIGGER devices_completed_on_archive_insert AFTER INSERT ON archives
BEGIN
  UPDATE devices SET last_completed_backup_at =
    (SELECT max(a.last_completed_backup_at) FROM archives a WHERE a.device_id = NEW.device_id AND a.purged_at IS NULL)
  WHERE device_id = NEW.device_id;
END;
CREATE TRIGGER devices_completed_on_archive_update AFTER UPDATE OF last_completed_backup_at, purged_at ON archives
BEGIN
  UPDATE devices SET last_completed_backup_at =
    (SELECT max(a.last_completed_backup_at) FROM archives a WHERE a.device_id = NEW.device_id AND a.purged_at IS NULL)
  WHERE device_id = NEW.device_id;
END;
`;

const migration: Migration = {
  version: 2,
  name: "devices-storage",
  up(db) {
    db.exec(SCHEMA);
  },
};
export default migration;
