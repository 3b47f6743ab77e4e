/**
 * Cairn's routes for offering destinations (seed 000: "Offer destination as system-wide default"
 * and "to specific organizations"): the destinations settings group of one org, or of the
 * top-level org (system-wide), with auto-start per offered destination.
 */
import { CairnError } from "@cairn/protocol";
import { authorizeByRole, type Principal } from "../../auth/access.js";
import type { Permission } from "../../auth/roles.js";
import type { AuthorityContext } from "../../context.js";
import type { Org } from "../../db/records.js";
import { destinationJson } from "../../settings/api-settings.js";
import type { DestinationOffer } from "../../settings/schema.js";
import type { ApiRouter } from "../api-router.js";
import { bodyObject, numericId, pathId } from "../params.js";

const TAGS = ["destinations"];

async function view(ctx: AuthorityContext, org: Org): Promise<Record<string, unknown>> {
  const r = await ctx.settings.resolveOrg(org);
  const dests = await ctx.store.listDestinations();
  const offers = new Map(r.values.destinations.offers.map((o) => [o.destinationGuid, o]));
  const source = r.groupSource.destinations;
  const fromDefaults = source === (await ctx.store.getTopLevelOrg())?.orgId || source === org.orgId;
  const provider = fromDefaults ? undefined : await ctx.store.getOrg(source);
  return {
    inherit: r.inherits.destinations,
    inheritedFromOrgId: r.inherits.destinations ? (provider?.orgId ?? null) : null,
    inheritedFromOrgName: r.inherits.destinations ? (provider?.name ?? null) : null,
    destinations: dests.map((d) => ({
      ...destinationJson(d),
      offered: offers.has(d.destinationGuid),
      autoStart: offers.get(d.destinationGuid)?.autoStart ?? false,
    })),
  };
}

async function offersFrom(ctx: AuthorityContext, list: unknown): Promise<DestinationOffer[]> {
  if (!Array.isArray(list)) throw new CairnError("BAD_REQUEST", "destinations must be a list");
  const dests = await ctx.store.listDestinations();
  const out: DestinationOffer[] = [];
  for (const [i, x] of list.entries()) {
    const o = bodyObject(x);
    const d = dests.find((z) => z.destinationId === numericId(o.destinationId, `destinations[${i}].destinationId`));
    if (d === undefined) throw new CairnError("BAD_REQUEST", `destinations[${i}]: no such destination`);
    if (o.offered === true) out.push({ destinationGuid: d.destinationGuid, autoStart: o.autoStart !== false });
  }
  return out;
}

async function put(ctx: AuthorityContext, p: Principal, org: Org, body: unknown): Promise<Record<string, unknown>> {
  const b = bodyObject(body);
  const group = b.inherit === true && org.parentId !== null ? ({ inherit: true } as const) : { values: { offers: await offersFrom(ctx, b.destinations) } };
  await ctx.orgSettings.change(p, org.orgId, { groups: { destinations: group } });
  return view(ctx, org);
}

/**
 * An org the caller holds `perm` over through a role: NOT_FOUND when it cannot see it, FORBIDDEN
 * when it sees it only as its own org (a member) or lacks the permission. A PUT that would change
 * nothing is refused alike: the check comes before the change.
 */
async function orgWith(ctx: AuthorityContext, p: Principal, orgId: number, perm: Permission): Promise<Org> {
  const org = await ctx.orgs.byId(p, orgId);
  if (!authorizeByRole(p, perm, { kind: "org", orgId: org.orgId, path: org.path }))
    throw new CairnError("FORBIDDEN", `Not allowed: ${perm}`, { details: { permission: perm } });
  return org;
}

/** The top-level org, for the system-wide offers: FORBIDDEN (not NOT_FOUND: it is no secret) without `org.settings` over it. */
async function topWith(ctx: AuthorityContext, p: Principal): Promise<Org> {
  const top = await ctx.store.getTopLevelOrg();
  if (top === undefined) throw new CairnError("NOT_FOUND", "No organization yet");
  if (!authorizeByRole(p, "org.settings", { kind: "org", orgId: top.orgId, path: top.path }))
    throw new CairnError("FORBIDDEN", "Not allowed: org.settings (the system-wide offers are the top-level organization's)", {
      details: { permission: "org.settings" },
    });
  return top;
}

/** Registers the offer routes. */
export function registerOfferRoutes(api: ApiRouter, ctx: AuthorityContext): void {
  api.route({
    method: "GET",
    url: "/api/v1/orgs/:id/destinations",
    auth: "user",
    summary: "Every destination with whether this org offers it (effective) and auto-start",
    tags: TAGS,
    handler: async ({ p, params }) => view(ctx, await orgWith(ctx, p, pathId(params.id, "orgId"), "org.read")),
  });
  api.route({
    method: "PUT",
    url: "/api/v1/orgs/:id/destinations",
    auth: "user",
    summary: "Offer destinations to an org ({inherit:true} drops its override)",
    tags: TAGS,
    handler: async ({ p, params, body }) => put(ctx, p, await orgWith(ctx, p, pathId(params.id, "orgId"), "org.settings"), body),
  });
  api.route({
    method: "GET",
    url: "/api/v1/settings/destinations",
    auth: "user",
    summary: "The system-wide destination offers (the top-level org's)",
    tags: TAGS,
    handler: async ({ p }) => ({ destinations: (await view(ctx, await topWith(ctx, p))).destinations }),
  });
  api.route({
    method: "PUT",
    url: "/api/v1/settings/destinations",
    auth: "user",
    summary: "Set the system-wide destination offers and auto-start",
    tags: TAGS,
    handler: async ({ p, body }) => ({
      destinations: (await put(ctx, p, await topWith(ctx, p), { destinations: bodyObject(body).destinations })).destinations,
    }),
  });
}
