/**
 * One-time enroll keys (`cne_…`): a storage node presents one in `enroll` to join a destination.
 * Only the SHA-256 is stored; a key works once and until it expires (24 hours). Issued through the
 * API (`POST /api/v1/enroll-keys`) or the command line (`cairn authority enroll-key`), which opens
 * the database next to a running `serve` (SQLite WAL: both write, one at a time).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { CairnError, type Clock, HOUR_MS, hashSecret, isoTime, newSecret, systemClock } from "@cairn/protocol";
import { auditEntry } from "../audit/audit.js";
import { type Principal, SYSTEM_PRINCIPAL } from "../auth/access.js";
import type { Destination } from "../db/device-records.js";
import { openSqliteStore } from "../db/sqlite-store.js";
import type { AuthorityStore } from "../db/store.js";
import { SettingsService } from "../settings/settings-service.js";
import { insertDestination, validateDestinationName } from "./destinations.js";

/** How long an enroll key works. */
export const ENROLL_KEY_TTL_MS = 24 * HOUR_MS;
/** The name of the destination `enroll-key` creates on an authority that has none. */
export const DEFAULT_DESTINATION_NAME = "Primary";

/** A freshly issued key (shown once). */
export interface IssuedEnrollKey {
  enrollKey: string;
  destinationId: number;
  destinationGuid: string;
  destinationName: string;
  /** Epoch ms. */
  expiresAt: number;
}

/** What issuing needs. */
export interface EnrollKeyDeps {
  store: AuthorityStore;
  settings: SettingsService;
  clock: Clock;
}

/** Issues a key for `destination` (an active cluster destination). */
export async function issueEnrollKey(d: EnrollKeyDeps, p: Principal, destination: Destination): Promise<IssuedEnrollKey> {
  if (!destination.active) throw new CairnError("NOT_FOUND", "No such destination");
  if (destination.kind !== "cluster") throw new CairnError("BAD_REQUEST", "Servers enroll only into destinations of own servers, not provider destinations");
  const enrollKey = newSecret("cne");
  const now = d.clock.now();
  const expiresAt = now + ENROLL_KEY_TTL_MS;
  await d.store.transaction(async (tx) => {
    await tx.insertEnrollKey({
      keyHash: hashSecret(enrollKey),
      destinationId: destination.destinationId,
      createdByUserId: p.userId,
      createdAt: now,
      expiresAt,
    });
    await tx.appendAudit(auditEntry(p, now, "enrollkey.create", { type: "destination", id: destination.destinationId, orgId: null }, { expiresAt }));
  });
  return {
    enrollKey,
    destinationId: destination.destinationId,
    destinationGuid: destination.destinationGuid,
    destinationName: destination.name,
    expiresAt,
  };
}

/**
 * The destination the command line issues a key for: the one named (created as a destination of
 * own servers when it does not exist), else the first destination of own servers, else a new
 * one named {@link DEFAULT_DESTINATION_NAME}. Returns whether the offers changed.
 */
export async function destinationForCli(d: EnrollKeyDeps, name: string | undefined): Promise<{ destination: Destination; created: boolean }> {
  const wanted = name === undefined ? undefined : validateDestinationName(name);
  const found = wanted !== undefined ? await d.store.getDestinationByName(wanted) : (await d.store.listDestinationRecords()).find((x) => x.kind === "cluster");
  if (found !== undefined) return { destination: found, created: false };
  const now = d.clock.now();
  const { destination } = await d.store.transaction((tx) =>
    insertDestination(tx, d.settings, SYSTEM_PRINCIPAL, { name: wanted ?? DEFAULT_DESTINATION_NAME, kind: "cluster" }, now),
  );
  return { destination, created: true };
}

/** Options of {@link createEnrollKey}. */
export interface CreateEnrollKeyOptions {
  dataDir: string;
  /** The destination's name (created when missing); default: the first destination of own servers. */
  destination?: string;
  clock?: Clock;
}

/** `cairn authority enroll-key`: what it prints (`expiresAt` ISO-8601). */
export interface CreateEnrollKeyResult {
  enrollKey: string;
  destinationGuid: string;
  destinationName: string;
  expiresAt: string;
}

/** Issues an enroll key on the authority in `dataDir` (works while `serve` runs on it). */
export async function createEnrollKey(opts: CreateEnrollKeyOptions): Promise<CreateEnrollKeyResult> {
  const clock = opts.clock ?? systemClock;
  const file = join(opts.dataDir, "authority.db");
  if (!existsSync(file)) throw new CairnError("CONFIG_INVALID", `no authority in ${opts.dataDir}: run \`cairn authority init\` first`);
  const store = openSqliteStore({ file, clock });
  try {
    if ((await store.getTopLevelOrg()) === undefined)
      throw new CairnError("CONFIG_INVALID", `no authority in ${opts.dataDir}: run \`cairn authority init\` first`);
    const deps: EnrollKeyDeps = { store, settings: new SettingsService(store), clock };
    const { destination } = await destinationForCli(deps, opts.destination);
    const k = await issueEnrollKey(deps, SYSTEM_PRINCIPAL, destination);
    return { enrollKey: k.enrollKey, destinationGuid: k.destinationGuid, destinationName: k.destinationName, expiresAt: isoTime(k.expiresAt) };
  } finally {
    await store.close();
  }
}
