/**
 * Migration 5 (API.md §5.4, a device's `settings`): the file selection the device's user made on
 * the device itself (`cairn agent select`), as its agent reports it (`report-selection`), so that
 * the device's settings show what it backs up. JSON `{include, exclude, excludePatterns}`; null
 * until the agent reports.
 */
import type { Migration } from "./migration.js";

const SCHEMA = `
ALTER TABLE devices ADD COLUMN local_selection_json TEXT;
`;

const migration: Migration = {
  version: 5,
  name: "device-local-selection",
  up(db) {
    db.exec(SCHEMA);
  },
};
export default migration;
