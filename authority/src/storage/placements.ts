/**
 * Archive placements as the nodes receive them (`place-archive`, `update-archive`, the
 * `announce` answer): where the archive lives, whose it is, its quota (the user's, else the
 * org's default user quota), the retention of the device's effective settings, and whether it
 * is in cold storage.
 *
 * An archive whose owner is on active legal hold (API.md §11) carries {@link HOLD_RETENTION}
 * instead: every version, deleted files included, forever. That is at least as conservative as
 * any hold policy's and any org's retention, so the node prunes nothing of a custodian's while
 * a hold lasts; when the last hold ends the org's retention applies again.
 */
import type { ArchivePlacement, RetentionPolicy } from "@cairn/protocol";
import type { ArchiveRecord } from "../db/device-records.js";
import type { StoreReader } from "../db/store.js";
import { resolveDevices } from "../devices/device-settings-service.js";

/** The retention of a custodian's archives while on active hold: keep everything. */
export const HOLD_RETENTION: Readonly<RetentionPolicy> = Object.freeze({
  bands: [{ untilAgeMs: -1, spacingMs: 0 }],
  deletedRetentionMs: -1,
});

/** Placements of `archives` (batch loads). Archives whose device or org is gone are skipped. */
export async function placementsOf(reader: StoreReader, archives: readonly ArchiveRecord[]): Promise<ArchivePlacement[]> {
  if (archives.length === 0) return [];
  const devices = new Map((await reader.getDevices([...new Set(archives.map((a) => a.deviceId))])).map((d) => [d.deviceId, d]));
  const orgs = new Map((await reader.getOrgs([...new Set(archives.map((a) => a.orgId))])).map((o) => [o.orgId, o]));
  const users = new Map<number, number>();
  for (const id of new Set(archives.map((a) => a.userId))) users.set(id, (await reader.getUser(id))?.quotaBytes ?? -1);
  const items = [...devices.values()].flatMap((device) => {
    const org = orgs.get(device.orgId);
    return org === undefined ? [] : [{ device, org }];
  });
  const resolved = await resolveDevices(reader, items);
  const onHold = await reader.usersOnActiveHold([...users.keys()]);
  const out: ArchivePlacement[] = [];
  for (const a of archives) {
    const r = resolved.get(a.deviceId);
    if (r === undefined) continue;
    const userQuota = users.get(a.userId) ?? -1;
    out.push({
      archiveGuid: a.archiveGuid,
      storePointId: a.nodeStorePointId,
      deviceGuid: a.deviceGuid,
      userUid: a.userUid,
      orgUid: a.orgUid,
      destinationGuid: a.destinationGuid,
      quotaBytes: userQuota >= 0 ? userQuota : r.values.quota.defaultUserMaxBytes,
      retention: structuredClone(onHold.has(a.userId) ? HOLD_RETENTION : r.values.device.retention) as RetentionPolicy,
      cold: a.cold,
    });
  }
  return out;
}

/** The placement of one archive. */
export async function placementOf(reader: StoreReader, archive: ArchiveRecord): Promise<ArchivePlacement | undefined> {
  return (await placementsOf(reader, [archive]))[0];
}
