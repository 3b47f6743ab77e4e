/**
 * API.md §6: devices (`/api/Computer` list, by id and by guid, whole-object settings PUT), block
 * and unblock, deactivate and reactivate (`/api/v4/computer-deactivation/update|remove`),
 * deauthorize; and Cairn's `POST /api/v1/orgs/{id}/upgrade-clients`.
 */
import { AGENT_PACKAGE_VERSION_RE, CairnError } from "@cairn/protocol";
import type { Principal } from "../../auth/access.js";
import type { AuthorityContext } from "../../context.js";
import { DEVICE_SORT_KEYS } from "../../db/device-records.js";
import type { DeviceInContext, DeviceIncludes, DeviceListQuery } from "../../devices/device-service.js";
import { putComputer } from "../../devices/device-settings-put.js";
import { auditEntry } from "../../audit/audit.js";
import { requirePermission } from "../../auth/access.js";
import { type ApiRouter, NO_CONTENT } from "../api-router.js";
import { bodyObject, boolParam, guidValue, idType, numericId, pageParams, pathGuid, pathId, queryValue, sortParams, textParam } from "../params.js";
import { agentUpgradesOf, requestOrigin } from "../../ops/agent-upgrades.js";

const TAGS = ["devices"];

function includes(q: Record<string, unknown>): DeviceIncludes {
  return { backupUsage: boolParam(q, "incBackupUsage") === true, settings: boolParam(q, "incSettings") === true };
}

async function byPath(ctx: AuthorityContext, p: Principal, id: string, q: Record<string, unknown>): Promise<DeviceInContext> {
  const t = idType(q);
  if (t === "guid") return ctx.devices.byGuid(p, pathGuid(id, "deviceGuid"));
  if (t === "id") return ctx.devices.byId(p, pathId(id, "computerId"));
  throw new CairnError("BAD_REQUEST", "idType is id or guid");
}

function listQuery(q: Record<string, unknown>): DeviceListQuery {
  const out: DeviceListQuery = {};
  const active = boolParam(q, "active");
  if (active !== undefined) out.active = active;
  const blocked = boolParam(q, "blocked");
  if (blocked !== undefined) out.blocked = blocked;
  // any orgUid, however long or malformed, that names no org is "Unable to find org" (API.md §1.6)
  const orgUid = queryValue(q, "orgUid");
  if (orgUid !== undefined && orgUid !== "") out.orgUid = guidValueOrMiss(orgUid);
  const userUid = textParam(q, "userUid", 40);
  if (userUid !== undefined) out.userUid = guidValue(userUid, "userUid");
  const target = textParam(q, "targetComputerGuid", 40);
  if (target !== undefined) out.targetComputerGuid = guidValue(target, "targetComputerGuid");
  const text = textParam(q, "q", 200);
  if (text !== undefined) out.q = text;
  const sort = sortParams(q, DEVICE_SORT_KEYS);
  if (sort !== undefined) out.sort = sort;
  return out;
}

/** An org uid that is not a uid is an org that does not exist (py42 matches the message). */
function guidValueOrMiss(v: string): string {
  try {
    return guidValue(v, "orgUid");
  } catch {
    throw new CairnError("ORG_NOT_FOUND", "Unable to find org");
  }
}

function deviceIdOf(body: unknown): number {
  return numericId(bodyObject(body).id, "id");
}

/** Registers the device routes. */
export function registerDeviceRoutes(api: ApiRouter, ctx: AuthorityContext): void {
  api.route({
    method: "GET",
    url: "/api/Computer",
    auth: "user",
    summary: "Devices (active, blocked, orgUid, userUid, targetComputerGuid, q, srtKey/srtDir; incCounts, incBackupUsage, incSettings)",
    tags: TAGS,
    handler: async ({ p, query }) => {
      const counts = boolParam(query, "incCounts") === true;
      const r = await ctx.devices.list(p, listQuery(query), pageParams(query), { ...includes(query), counts });
      return {
        totalCount: r.total,
        ...(counts ? { warningCount: r.warningCount ?? 0, criticalCount: r.criticalCount ?? 0 } : {}),
        computers: r.computers,
      };
    },
  });
  api.route({
    method: "GET",
    url: "/api/Computer/:id",
    auth: "user",
    summary: "A device by id, or by guid with idType=guid (incBackupUsage, incSettings)",
    tags: TAGS,
    handler: async ({ p, params, query }) => ctx.devices.computerObject((await byPath(ctx, p, params.id ?? "", query)).device, includes(query)),
  });
  api.route({
    method: "PUT",
    url: "/api/Computer/:id",
    auth: "user",
    summary: "Update a device: the whole incSettings=True object, edited (name, computerExtRef, notes, settings)",
    tags: TAGS,
    handler: async ({ p, params, body }) => {
      const id = await putComputer(ctx, ctx.devices, p, pathId(params.id, "computerId"), body);
      const { device } = await ctx.devices.byId(p, id);
      return ctx.devices.computerObject(device, { settings: true, backupUsage: true });
    },
  });
  for (const [method, blocked] of [
    ["PUT", true],
    ["DELETE", false],
  ] as const) {
    api.route({
      method,
      url: "/api/ComputerBlock/:id",
      auth: "user",
      summary: blocked ? "Block a device (its owner cannot restore on it; backups go on)" : "Unblock a device",
      tags: TAGS,
      handler: async ({ p, params }) => {
        await ctx.deviceLifecycle.setBlocked(p, pathId(params.id, "computerId"), blocked);
        return NO_CONTENT;
      },
    });
  }
  api.route({
    method: "POST",
    url: "/api/v4/computer-deactivation/update",
    auth: "user",
    summary: "Deactivate a device: backups stop, its archives go to cold storage (ACTIVE_LEGAL_HOLD for a custodian)",
    tags: TAGS,
    handler: async ({ p, body }) => {
      await ctx.deviceLifecycle.deactivate(p, deviceIdOf(body));
      return NO_CONTENT;
    },
  });
  api.route({
    method: "POST",
    url: "/api/v4/computer-deactivation/remove",
    auth: "user",
    summary: "Reactivate a device (its archives leave cold storage)",
    tags: TAGS,
    handler: async ({ p, body }) => {
      await ctx.deviceLifecycle.reactivate(p, deviceIdOf(body));
      return NO_CONTENT;
    },
  });
  api.route({
    method: "PUT",
    url: "/api/ComputerDeauthorization/:id",
    auth: "user",
    summary: "Deauthorize a device: its agent is signed out and its key removed; registering again resumes",
    tags: TAGS,
    handler: async ({ p, params }) => {
      await ctx.deviceLifecycle.deauthorize(p, pathId(params.id, "computerId"));
      return NO_CONTENT;
    },
  });
  api.route({
    method: "POST",
    url: "/api/v1/orgs/:id/upgrade-clients",
    auth: "user",
    summary: "Tell the connected agents of this org (not its children) to upgrade; answers how many devices the org has",
    description:
      'Offers the newest imported agent package (or `{"version": V}`) to the connected agents of the org with `upgrade-available`; answers `deviceCount`, `offeredVersion` (null when no package is imported) and `notifiedDevices`.',
    tags: TAGS,
    handler: async ({ p, params, body, req }) => {
      const org = await ctx.orgs.byId(p, pathId(params.id, "orgId"));
      requirePermission(p, "device.lifecycle", { kind: "org", orgId: org.orgId, path: org.path }, "organization");
      // everything that can fail is checked before anything is written (API.md §1.6)
      const version = upgradeVersionOf(body);
      const upgrades = agentUpgradesOf(ctx);
      const pkg = upgrades?.packageFor(version) ?? null;
      const ids = await ctx.store.deviceIdsOfOrgs([org.orgId]);
      const now = ctx.clock.now();
      await ctx.store.transaction((tx) =>
        tx.appendAudit(auditEntry(p, now, "org.upgradeClients", { type: "org", id: org.orgId, orgId: org.orgId }, { deviceCount: ids.length })),
      );
      // agents re-read their configuration, and connected ones are offered the agent package
      ctx.events.emit("devices-changed", { deviceIds: ids });
      const offer = upgrades !== undefined && pkg !== null ? upgrades.offerPackage(ids, pkg, { origin: requestOrigin(req), orgId: org.orgId }) : null;
      return { deviceCount: ids.length, offeredVersion: offer?.version ?? null, notifiedDevices: offer?.notified ?? 0 };
    },
  });
}

/** The `version` of an upgrade-clients body: absent or null (the newest package), else a package version (BAD_REQUEST). */
export function upgradeVersionOf(body: unknown): string | undefined {
  if (body !== undefined && body !== null && (typeof body !== "object" || Array.isArray(body)))
    throw new CairnError("BAD_REQUEST", 'the body is {"version"?: string}');
  const v = (body as { version?: unknown } | null | undefined)?.version;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string" || !AGENT_PACKAGE_VERSION_RE.test(v))
    throw new CairnError("BAD_REQUEST", "version must be a package version (MAJOR.MINOR.PATCH[-pre])", { details: { field: "version" } });
  return v;
}
