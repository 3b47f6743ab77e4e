/**
 * The one way archives enter cold storage (DECISIONS.md): deactivation of a device, user or
 * org, a user moved to an org that does not offer the destination, or a destination no longer
 * offered. The purge date is today (UTC) plus the effective `archiveHoldDays` of the archive's
 * org (API.md §7.2). Runs inside the caller's transaction.
 */
import { DAY_MS, isoDate } from "@cairn/protocol";
import type { ColdStorageEntry, LiveArchive } from "../db/records.js";
import type { StoreWriter } from "../db/store.js";
import type { SettingsService } from "../settings/settings-service.js";

/** `YYYY-MM-DD`: today (UTC) plus `days`. */
export function holdExpireDate(now: number, days: number): string {
  return isoDate(now + days * DAY_MS);
}

async function holdDays(tx: StoreWriter, settings: SettingsService, orgIds: readonly number[]): Promise<Map<number, { days: number; offered: Set<string> }>> {
  const orgs = await tx.getOrgs([...new Set(orgIds)]);
  const resolved = await settings.resolveMany(orgs, tx);
  return new Map(
    orgs.map((o) => {
      const r = resolved.get(o.orgId);
      return [o.orgId, { days: r?.values.quota.archiveHoldDays ?? 365, offered: new Set(r?.values.destinations.offers.map((x) => x.destinationGuid) ?? []) }];
    }),
  );
}

/** Puts `archives` into cold storage for `cause`; returns how many. */
export async function coldStore(
  tx: StoreWriter,
  settings: SettingsService,
  archives: readonly LiveArchive[],
  cause: ColdStorageEntry["cause"],
  causeId: number,
  now: number,
): Promise<number> {
  if (archives.length === 0) return 0;
  const byOrg = await holdDays(
    tx,
    settings,
    archives.map((a) => a.orgId),
  );
  const entries = archives.map((a) => ({ archiveId: a.archiveId, holdExpireDate: holdExpireDate(now, byOrg.get(a.orgId)?.days ?? 365), cause, causeId }));
  await tx.putColdStorage(entries, now);
  return entries.length;
}

/** Cold-stores those of `archives` whose destination their org no longer offers. */
export async function coldStoreUnoffered(
  tx: StoreWriter,
  settings: SettingsService,
  archives: readonly LiveArchive[],
  causeId: number,
  now: number,
): Promise<number> {
  if (archives.length === 0) return 0;
  const byOrg = await holdDays(
    tx,
    settings,
    archives.map((a) => a.orgId),
  );
  return coldStore(
    tx,
    settings,
    archives.filter((a) => !byOrg.get(a.orgId)?.offered.has(a.destinationGuid)),
    "move",
    causeId,
    now,
  );
}

/**
 * Takes out of cold storage the archives that were there only because their destination was not
 * offered (a move, an offer turned off) and whose org offers it again: a user moved back, an offer
 * turned on. Active devices of active users only; returns how many.
 */
export async function releaseOffered(
  tx: StoreWriter,
  settings: SettingsService,
  scope: { userIds?: readonly number[]; orgIds?: readonly number[] },
): Promise<number> {
  const cold = await tx.unofferedColdArchives(scope);
  if (cold.length === 0) return 0;
  const byOrg = await holdDays(
    tx,
    settings,
    cold.map((a) => a.orgId),
  );
  return tx.releaseColdArchives(cold.filter((a) => byOrg.get(a.orgId)?.offered.has(a.destinationGuid)).map((a) => a.archiveId));
}
