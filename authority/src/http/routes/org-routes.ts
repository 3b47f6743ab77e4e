/**
 * API.md §4 and §5: orgs (current, by id or uid, list, create, whole-object update), block,
 * deactivation and reactivation, the `/api/OrgSetting` packets; and Cairn's own org routes:
 * change parent, effective settings with their sources, settings changes with locks.
 */
import { CairnError } from "@cairn/protocol";
import type { Principal } from "../../auth/access.js";
import type { AuthorityContext } from "../../context.js";
import type { Org } from "../../db/records.js";
import { ALL_PARTS, type OrgIncludes } from "../../settings/org-settings-api.js";
import type { GroupName } from "../../settings/schema.js";
import type { GroupChange, PacketChange } from "../../settings/settings-service.js";
import { type ApiRouter, NO_CONTENT } from "../api-router.js";
import { ORG_SORT_KEYS } from "../../db/store.js";
import { bodyObject, boolParam, guidValue, idType, numericId, optionalId, pageParams, pathGuid, pathId, sortParams, textParam } from "../params.js";

const TAGS = ["organizations"];

function includes(query: Record<string, unknown>, viewer?: Principal): OrgIncludes {
  return {
    ...(viewer ? { viewer } : {}),
    settings: boolParam(query, "incSettings") === true,
    deviceDefaults: boolParam(query, "incDeviceDefaults") === true,
    inheritedOrgInfo: boolParam(query, "incInheritedOrgInfo") === true,
    counts: boolParam(query, "incCounts") === true,
  };
}

async function byPath(ctx: AuthorityContext, p: Principal, id: string, query: Record<string, unknown>): Promise<Org> {
  const t = idType(query);
  if (t === "orguid") return ctx.orgs.byUid(p, pathGuid(id, "orgUid"));
  if (t === "id") return ctx.orgs.byId(p, pathId(id, "orgId"));
  throw new CairnError("BAD_REQUEST", "idType is id or orgUid");
}

function settingsChange(body: unknown): { groups: Partial<Record<GroupName, GroupChange>>; packets: PacketChange[]; locks: Record<string, boolean> } {
  const b = bodyObject(body);
  const groups = bodyObject(b.groups) as Partial<Record<GroupName, GroupChange>>;
  for (const [g, ch] of Object.entries(groups)) {
    const c = bodyObject(ch);
    if (c.inherit === true) groups[g as GroupName] = { inherit: true };
    else groups[g as GroupName] = { values: bodyObject(c.values) };
  }
  const packets = b.packets === undefined ? [] : b.packets;
  if (!Array.isArray(packets)) throw new CairnError("BAD_REQUEST", "packets must be a list");
  return {
    groups,
    locks: bodyObject(b.locks) as Record<string, boolean>,
    packets: packets.map((x) => {
      const o = bodyObject(x);
      if (typeof o.key !== "string") throw new CairnError("BAD_REQUEST", "each packet has a key");
      return {
        key: o.key,
        ...(o.value !== undefined && o.value !== null ? { value: o.value } : {}),
        ...(typeof o.locked === "boolean" ? { locked: o.locked } : {}),
      };
    }),
  };
}

/** Registers the org routes. */
export function registerOrgRoutes(api: ApiRouter, ctx: AuthorityContext): void {
  api.route({
    method: "GET",
    url: "/api/Org/my",
    auth: "user",
    summary: "The caller's organization (incSettings, incDeviceDefaults, incInheritedOrgInfo, incCounts)",
    tags: TAGS,
    handler: async ({ p, query }) => ctx.orgSettings.orgObject(await ctx.orgs.mine(p), includes(query, p)),
  });

  api.route({
    method: "GET",
    url: "/api/Org/:id",
    auth: "user",
    summary: "An organization by id, or by uid with idType=orgUid",
    tags: TAGS,
    handler: async ({ p, params, query }) => ctx.orgSettings.orgObject(await byPath(ctx, p, params.id ?? "", query), includes(query, p)),
  });

  api.route({
    method: "GET",
    url: "/api/Org",
    auth: "user",
    summary: "The caller's org subtree in ascending orgId (filters active, q; Cairn: parentOrgId, excludeSubtreeOf, allOrgs, srtKey, srtDir)",
    tags: TAGS,
    handler: async ({ p, query }) => {
      const active = boolParam(query, "active");
      const q = textParam(query, "q");
      const parentOrgId = optionalId(query, "parentOrgId");
      const excludeSubtreeOf = optionalId(query, "excludeSubtreeOf");
      const sort = sortParams(query, ORG_SORT_KEYS);
      const allOrgs = boolParam(query, "allOrgs");
      const page = await ctx.orgs.list(
        p,
        {
          ...(allOrgs !== undefined ? { allOrgs } : {}),
          ...(active !== undefined ? { active } : {}),
          ...(q !== undefined ? { q } : {}),
          ...(parentOrgId !== undefined ? { parentOrgId } : {}),
          ...(excludeSubtreeOf !== undefined ? { excludeSubtreeOf } : {}),
          ...(sort ? { sort } : {}),
        },
        pageParams(query),
      );
      return { totalCount: page.total, orgs: await ctx.orgSettings.orgObjects(page.items, includes(query, p)) };
    },
  });

  api.route({
    method: "POST",
    url: "/api/Org",
    auth: "user",
    summary: "Create an organization under parentOrgUid (null: the caller's own org); it inherits every settings group",
    tags: TAGS,
    handler: async ({ p, body }) => {
      const b = bodyObject(body);
      const org = await ctx.orgs.create(p, { orgName: b.orgName, orgExtRef: b.orgExtRef, notes: b.notes, parentOrgUid: b.parentOrgUid });
      return ctx.orgSettings.orgObject(org, {});
    },
  });

  api.route({
    method: "PUT",
    url: "/api/Org/:id",
    auth: "user",
    summary: "Update an organization: the whole object from GET with incSettings, incDeviceDefaults, incInheritedOrgInfo, edited",
    tags: TAGS,
    handler: async ({ p, params, body }) => ctx.orgSettings.putOrg(p, pathId(params.id, "orgId"), body),
  });

  for (const [method, on] of [
    ["PUT", true],
    ["DELETE", false],
  ] as const) {
    api.route({
      method,
      url: "/api/OrgBlock/:id",
      auth: "user",
      summary: on ? "Block an organization and its subtree (backups continue)" : "Unblock an organization",
      tags: TAGS,
      handler: async ({ p, params }) => {
        await ctx.orgs.setBlocked(p, pathId(params.id, "orgId"), on);
        return NO_CONTENT;
      },
    });
    api.route({
      method,
      url: "/api/OrgDeactivation/:id",
      auth: "user",
      summary: on ? "Deactivate an organization, its subtree, users and devices" : "Reactivate an organization (backups do not restart by themselves)",
      tags: TAGS,
      handler: async ({ p, params }) => {
        if (on) await ctx.orgs.deactivate(p, pathId(params.id, "orgId"));
        else await ctx.orgs.reactivate(p, pathId(params.id, "orgId"));
        return NO_CONTENT;
      },
    });
  }

  api.route({
    method: "GET",
    url: "/api/OrgSetting/:id",
    auth: "user",
    summary: "The org's setting packets: value, supplying org, and whether an ancestor locked it",
    tags: TAGS,
    handler: async ({ p, params }) => ctx.orgSettings.packets(p, pathId(params.id, "orgId")),
  });

  api.route({
    method: "PUT",
    url: "/api/OrgSetting/:id",
    auth: "user",
    summary: "Set packets at this org ({packets:[{key,value,locked}]}); a key locked above is SETTING_LOCKED",
    tags: TAGS,
    handler: async ({ p, params, body }) => ctx.orgSettings.putPackets(p, pathId(params.id, "orgId"), body),
  });

  api.route({
    method: "PUT",
    url: "/api/v1/orgs/:id/parent",
    auth: "user",
    summary: "Change an organization's parent (not the top level, not under its own descendant)",
    tags: TAGS,
    handler: async ({ p, params, body }) => {
      const b = bodyObject(body);
      let parentId: number;
      if (b.parentOrgUid !== undefined && b.parentOrgUid !== null) {
        const parent = await ctx.store.getOrgByUid(guidValue(b.parentOrgUid, "parentOrgUid"));
        if (parent === undefined) throw new CairnError("ORG_NOT_FOUND", "Organization was not found");
        parentId = parent.orgId;
      } else parentId = numericId(b.parentOrgId, "parentOrgId");
      const org = await ctx.orgs.changeParent(p, pathId(params.id, "orgId"), parentId);
      return ctx.orgSettings.orgObject(org, ALL_PARTS);
    },
  });

  api.route({
    method: "POST",
    url: "/api/v1/orgs/:id/registration-key",
    auth: "user",
    summary: "Issue a new registration key for an organization (the old one stops working)",
    tags: TAGS,
    handler: async ({ p, params }) => ctx.orgSettings.orgObject(await ctx.orgs.rotateRegistrationKey(p, pathId(params.id, "orgId")), {}),
  });

  api.route({
    method: "GET",
    url: "/api/v1/orgs/:id/settings",
    auth: "user",
    summary: "Effective settings with, per key, the supplying org and the ancestor whose lock holds it",
    tags: TAGS,
    handler: async ({ p, params }) => ctx.orgSettings.effective(p, pathId(params.id, "orgId")),
  });

  api.route({
    method: "PUT",
    url: "/api/v1/orgs/:id/settings",
    auth: "user",
    summary: 'Change settings: {groups:{quota:{inherit:true}|{values}}, packets:[{key,value,locked}], locks:{"quota.maxSeats":true}}',
    tags: TAGS,
    handler: async ({ p, params, body }) => ctx.orgSettings.change(p, pathId(params.id, "orgId"), settingsChange(body)),
  });
}
