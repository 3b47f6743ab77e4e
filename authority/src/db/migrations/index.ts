/**
 * Every migration, in order. Add a file `NNNN-description.ts` with a default export and append
 * it here; `migrate` refuses gaps, and each migration gets its own test in `test/`.
 */
import initial from "./0001-initial.js";
import devicesStorage from "./0002-devices-storage.js";
import statusEmails from "./0003-status-emails.js";
import archiveLastError from "./0004-archive-last-error.js";
import deviceLocalSelection from "./0005-device-local-selection.js";
import type { Migration } from "./migration.js";

/** All migrations, oldest first; `MIGRATIONS[i].version === i + 1`. */
export const MIGRATIONS: readonly Migration[] = [initial, devicesStorage, statusEmails, archiveLastError, deviceLocalSelection];

/** The schema version this build writes. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS.length;
