/**
 * API.md §7.1: archives (`/api/Archive` by device, user or destination, and by GUID), a device's
 * backup sets writing to a destination (`/c42api/v3/BackupSets/{device}/{destination}`), and data
 * key tokens (`POST /api/DataKeyToken`, short-lived, for any caller allowed to restore the device,
 * whatever its key policy: key checks belong to the restore session).
 */
import { CairnError, signToken } from "@cairn/protocol";
import { canSee, type Principal, requirePermission, scopeOf } from "../../auth/access.js";
import type { AuthorityContext } from "../../context.js";
import type { ArchiveFilter } from "../../db/device-records.js";
import { lockedKeysOf, resolveDevice } from "../../devices/device-settings-service.js";
import { deviceTarget } from "../../devices/device-service.js";
import { archiveJson } from "../../devices/device-view.js";
import { toDeviceSettings } from "../../settings/device-settings.js";
import type { ApiRouter } from "../api-router.js";
import { bodyObject, guidValue, pageParams, pathGuid, textParam } from "../params.js";

const TAGS = ["archives"];
/** How long a data key token works (API.md §7.1: 5 minutes suggested). */
export const DATA_KEY_TOKEN_TTL_MS = 5 * 60_000;
/** The `typ` of data key tokens (verified by the restores part). */
export const DATA_KEY_TOKEN_TYP = "datakey";

async function archiveFilter(ctx: AuthorityContext, p: Principal, q: Record<string, unknown>): Promise<ArchiveFilter | null> {
  const scope = scopeOf(p, "device.read");
  const f: ArchiveFilter = scope.kind === "none" ? { scope: { kind: "all" }, selfUserId: p.userId ?? -1 } : { scope };
  const source = textParam(q, "backupSourceGuid", 40);
  if (source !== undefined) f.deviceId = (await ctx.devices.byGuid(p, guidValue(source, "backupSourceGuid"))).device.deviceId;
  const userUid = textParam(q, "userUid", 40);
  if (userUid !== undefined) {
    const user = await ctx.store.getUserByUid(guidValue(userUid, "userUid"));
    const org = user === undefined ? undefined : await ctx.store.getOrg(user.orgId);
    if (user === undefined || org === undefined || !canSee(p, { kind: "user", userId: user.userId, orgId: user.orgId, path: org.path }))
      throw new CairnError("NOT_FOUND", "No such user");
    f.userId = user.userId;
  }
  const dest = textParam(q, "destinationGuid", 40);
  if (dest !== undefined) {
    const d = await ctx.store.getDestinationByGuid(guidValue(dest, "destinationGuid"));
    if (d === undefined) return null;
    f.destinationId = d.destinationId;
  }
  return f;
}

/** Registers the archive routes. */
export function registerArchiveRoutes(api: ApiRouter, ctx: AuthorityContext): void {
  api.route({
    method: "GET",
    url: "/api/Archive",
    auth: "user",
    summary: "Archives of a device (backupSourceGuid), a user (userUid) or a destination (destinationGuid)",
    tags: TAGS,
    handler: async ({ p, query }) => {
      const f = await archiveFilter(ctx, p, query);
      if (f === null) return { totalCount: 0, archives: [] };
      const r = await ctx.store.listArchives(f, pageParams(query));
      return { totalCount: r.total, archives: r.items.map(archiveJson) };
    },
  });
  api.route({
    method: "GET",
    url: "/api/Archive/:guid",
    auth: "user",
    summary: "One archive by its GUID",
    tags: TAGS,
    handler: async ({ p, params }) => {
      const a = await ctx.store.getArchiveByGuid(pathGuid(params.guid, "archiveGuid"));
      if (a === undefined || a.purgedAt !== null) throw new CairnError("NOT_FOUND", "No such archive");
      const device = await ctx.store.getDevice(a.deviceId);
      // another org's archive reads as one that does not exist (T24)
      await ctx.devices.visible(p, device, "archive");
      return archiveJson(a);
    },
  });
  api.route({
    method: "GET",
    url: "/c42api/v3/BackupSets/:deviceGuid/:destinationGuid",
    auth: "user",
    summary: "The device's backup sets that write to a destination (the legal-hold set included)",
    tags: TAGS,
    handler: async ({ p, params }) => {
      const { device, org } = await ctx.devices.byGuid(p, pathGuid(params.deviceGuid, "deviceGuid"));
      const dest = await ctx.store.getDestinationByGuid(pathGuid(params.destinationGuid, "destinationGuid"));
      if (dest === undefined || !dest.active) throw new CairnError("NOT_FOUND", "No such destination");
      const r = await resolveDevice(ctx.store, device, org);
      const offers = r.values.destinations.offers.map((o) => ({ destinationGuid: o.destinationGuid, active: true }));
      const settings = toDeviceSettings(r.values, {
        destinations: offers,
        lockedKeys: lockedKeysOf(r),
        legalHoldSets: await ctx.agentService.legalHoldSets(device),
      });
      const archive = await ctx.store.archiveOfDevice(device.deviceId, dest.destinationId);
      const sets = settings.backupSets.filter((s) => s.destinations.includes(dest.destinationGuid) || (archive !== undefined && s.legalHold));
      if (sets.length === 0 && archive === undefined) throw new CairnError("NOT_FOUND", "The device writes nothing to this destination");
      return { backupSets: sets.map((s) => ({ backupSetId: s.id, name: s.name })) };
    },
  });
  api.route({
    method: "POST",
    url: "/api/DataKeyToken",
    auth: "user",
    summary: "A short-lived data key token for restoring a device (computerGuid)",
    tags: TAGS,
    handler: async ({ p, body }) => {
      const b = bodyObject(body);
      const { device, org } = await ctx.devices.byGuid(p, guidValue(b.computerGuid, "computerGuid"));
      requirePermission(p, "restore.personal", deviceTarget(device, org), "device");
      if (device.blocked && device.userId === p.userId) throw new CairnError("FORBIDDEN", "This device is blocked: its owner cannot restore on it");
      const archives = await ctx.store.archivesOfDevices([device.deviceId]);
      const own = archives.filter((a) => a.destinationKind !== "provider");
      if (archives.length > 0 && own.length === 0) for (const a of archives) await ctx.storage.assertRestoreAllowed(p, a);
      const dataKeyToken = signToken(
        { typ: DATA_KEY_TOKEN_TYP, iss: ctx.authorityGuid, sub: p.userUid ?? "system", dev: device.deviceGuid },
        ctx.keys.signing,
        ctx.clock,
        DATA_KEY_TOKEN_TTL_MS,
      );
      return { dataKeyToken };
    },
  });
}
