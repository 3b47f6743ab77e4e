/**
 * The legal-hold routes of API.md §11, in py42's spelling, and the shapes py42 reads
 * (`legalHoldPolicyUid`, `legalHoldUid`, `legalHoldMembershipUid`, the matter's `name`). The
 * policy list is a bare array (an empty one is written bare: API.md §1.3).
 */
import { CairnError, isoTime } from "@cairn/protocol";
import { canSee, type Principal } from "../auth/access.js";
import type { AuthorityContext } from "../context.js";
import type { LegalHoldEventRecord, LegalHoldMembershipRecord, LegalHoldPolicyRecord, LegalHoldRecord } from "../db/operations-store.js";
import type { User } from "../db/records.js";
import type { StoreReader } from "../db/store.js";
import { type ApiRouter, NO_CONTENT } from "../http/api-router.js";
import { bodyObject, guidValue, pageParams, pathGuid, queryValue, textParam } from "../http/params.js";
import { userTarget } from "../users/user-service.js";
import { LegalHoldService } from "./legal-hold-service.js";

type Users = Map<number, User>;

/** The users among `ids` that `p` may see (another tenant's creator or custodian shows as null: T24). */
async function usersById(store: StoreReader, p: Principal, ids: readonly (number | null)[]): Promise<Users> {
  const out: Users = new Map();
  for (const id of new Set(ids.filter((x): x is number => x !== null))) {
    const u = await store.getUser(id);
    const org = u && (await store.getOrg(u.orgId));
    if (u && org && canSee(p, userTarget(u, org))) out.set(id, u);
  }
  return out;
}

const userRef = (u: User | undefined) => (u === undefined ? null : { userUid: u.userUid, username: u.username, email: u.email, userExtRef: u.extRef });

/** The policy object. */
export function policyJson(r: LegalHoldPolicyRecord, users: Users): Record<string, unknown> {
  const c = r.creatorUserId === null ? undefined : users.get(r.creatorUserId);
  return {
    legalHoldPolicyUid: r.policyUid,
    name: r.name,
    policy: r.policy,
    creatorUser: c === undefined ? null : { userUid: c.userUid, username: c.username },
    creationDate: isoTime(r.createdAt),
    modificationDate: isoTime(r.modifiedAt),
  };
}

/** The matter object. */
export function matterJson(h: LegalHoldRecord, users: Users): Record<string, unknown> {
  return {
    legalHoldUid: h.holdUid,
    name: h.name,
    description: h.description,
    notes: h.notes,
    holdExtRef: h.extRef,
    active: h.active,
    creationDate: isoTime(h.createdAt),
    lastModified: isoTime(h.modifiedAt),
    holdPolicyUid: h.policyUid,
    creator: userRef(h.creatorUserId === null ? undefined : users.get(h.creatorUserId)),
  };
}

/** The membership object. */
export function membershipJson(m: LegalHoldMembershipRecord, users: Users): Record<string, unknown> {
  return {
    legalHoldMembershipUid: m.membershipUid,
    active: m.active,
    creationDate: isoTime(m.createdAt),
    legalHold: { legalHoldUid: m.holdUid, name: m.holdName },
    user: userRef(users.get(m.userId)),
  };
}

/** The event object of the report. */
export function eventJson(e: LegalHoldEventRecord, users: Users): Record<string, unknown> {
  const c = e.custodianUserId === null ? undefined : users.get(e.custodianUserId);
  const a = e.actorUserId === null ? undefined : users.get(e.actorUserId);
  return {
    eventUid: e.eventUid,
    eventType: e.eventType,
    eventDate: isoTime(e.eventAt),
    legalHoldUid: e.holdUid,
    legalHoldMembershipUid: e.membershipUid,
    custodianUserUid: c?.userUid ?? null,
    custodianUsername: c?.username ?? null,
    actorUserUid: a?.userUid ?? null,
    actorUsername: a?.username ?? null,
  };
}

/** `ACTIVE` (py42's default) / `INACTIVE` / `ALL`. */
function activeState(q: Record<string, unknown>): boolean | undefined {
  const v = (queryValue(q, "activeState") ?? "ACTIVE").toUpperCase();
  if (v === "ACTIVE") return true;
  if (v === "INACTIVE") return false;
  if (v === "ALL") return undefined;
  throw new CairnError("BAD_REQUEST", "activeState is ACTIVE, INACTIVE or ALL", { details: { field: "activeState" } });
}

function eventDate(q: Record<string, unknown>, name: string): number | undefined {
  const v = queryValue(q, name);
  if (v === undefined || v === "") return undefined;
  const t = Date.parse(v);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(t)) throw new CairnError("BAD_REQUEST", `${name} must be an ISO-8601 time`, { details: { field: name } });
  return t;
}

/** Registers the routes; the service is built over the context. */
export function registerLegalHoldRoutes(api: ApiRouter, ctx: AuthorityContext, svc = new LegalHoldService(ctx)): void {
  const tags = ["legal hold"];
  api.route({
    method: "POST",
    url: "/api/v4/legal-hold-policy/create",
    auth: "user",
    summary: "Creates a preservation policy (policy null: the default policy)",
    tags,
    handler: async ({ p, body }) => {
      const r = await svc.createPolicy(p, bodyObject(body));
      return policyJson(r, await usersById(ctx.store, p, [r.creatorUserId]));
    },
  });
  api.route({
    method: "GET",
    url: "/api/v4/legal-hold-policy/view",
    auth: "user",
    summary: "One preservation policy",
    tags,
    handler: async ({ p, query }) => {
      const r = await svc.policy(p, guidValue(queryValue(query, "legalHoldPolicyUid"), "legalHoldPolicyUid"));
      return policyJson(r, await usersById(ctx.store, p, [r.creatorUserId]));
    },
  });
  api.route({
    method: "GET",
    url: "/api/v4/legal-hold-policy/list",
    auth: "user",
    summary: "Every preservation policy (a bare array)",
    tags,
    handler: async ({ p }) => {
      const list = await svc.listPolicies(p);
      const users = await usersById(
        ctx.store,
        p,
        list.map((r) => r.creatorUserId),
      );
      return list.map((r) => policyJson(r, users));
    },
  });
  api.route({
    method: "POST",
    url: "/api/LegalHold",
    auth: "user",
    summary: "Creates a matter",
    tags,
    handler: async ({ p, body }) => {
      const b = bodyObject(body);
      const h = await svc.createMatter(p, {
        name: b.name as string,
        holdPolicyUid: guidValue(b.holdPolicyUid, "holdPolicyUid"),
        description: (b.description ?? null) as string | null,
        notes: (b.notes ?? null) as string | null,
        holdExtRef: (b.holdExtRef ?? null) as string | null,
      });
      return matterJson(h, await usersById(ctx.store, p, [h.creatorUserId]));
    },
  });
  api.route({
    method: "GET",
    url: "/api/LegalHold/:legalHoldUid",
    auth: "user",
    summary: "One matter (403 when unknown or not visible)",
    tags,
    handler: async ({ p, params }) => {
      const uid = /^[0-9]{1,20}$/.test(params.legalHoldUid ?? "") ? (params.legalHoldUid as string) : "0";
      const h = await svc.matter(p, uid);
      return matterJson(h, await usersById(ctx.store, p, [h.creatorUserId]));
    },
  });
  api.route({
    method: "GET",
    url: "/api/LegalHold",
    auth: "user",
    summary: "Matters (activeState, creatorUserUid, name, holdExtRef)",
    tags,
    handler: async ({ p, query }) => {
      const active = activeState(query);
      const creator = queryValue(query, "creatorUserUid");
      const name = textParam(query, "name");
      const extRef = textParam(query, "holdExtRef");
      const r = await svc.listMatters(
        p,
        {
          ...(active !== undefined ? { active } : {}),
          ...(creator ? { creatorUserUid: guidValue(creator, "creatorUserUid") } : {}),
          ...(name !== undefined ? { name } : {}),
          ...(extRef !== undefined ? { holdExtRef: extRef } : {}),
        },
        pageParams(query),
      );
      const users = await usersById(
        ctx.store,
        p,
        r.items.map((h) => h.creatorUserId),
      );
      return { totalCount: r.total, legalHolds: r.items.map((h) => matterJson(h, users)) };
    },
  });
  api.route({
    method: "POST",
    url: "/api/LegalHoldMembership",
    auth: "user",
    summary: "Adds a custodian to a matter (USER_ALREADY_IN_HOLD when already active)",
    tags,
    handler: async ({ p, body }) => {
      const b = bodyObject(body);
      const m = await svc.addCustodian(p, guidValue(b.legalHoldUid, "legalHoldUid"), guidValue(b.userUid, "userUid"));
      return membershipJson(m, await usersById(ctx.store, p, [m.userId]));
    },
  });
  api.route({
    method: "GET",
    url: "/api/LegalHoldMembership",
    auth: "user",
    summary: "Custodians (at least one of legalHoldMembershipUid, legalHoldUid, userUid, user)",
    tags,
    handler: async ({ p, query }) => {
      const active = activeState(query);
      const uid = (n: string) => {
        const v = queryValue(query, n);
        return v === undefined || v === "" ? undefined : guidValue(v, n);
      };
      const membershipUid = uid("legalHoldMembershipUid");
      const holdUid = uid("legalHoldUid");
      const userUid = uid("userUid");
      const user = textParam(query, "user");
      const r = await svc.listMemberships(
        p,
        {
          ...(active !== undefined ? { active } : {}),
          ...(membershipUid ? { membershipUid } : {}),
          ...(holdUid ? { holdUid } : {}),
          ...(userUid ? { userUid } : {}),
          ...(user !== undefined ? { user } : {}),
        },
        pageParams(query),
      );
      const users = await usersById(
        ctx.store,
        p,
        r.items.map((m) => m.userId),
      );
      return { totalCount: r.total, legalHoldMemberships: r.items.map((m) => membershipJson(m, users)) };
    },
  });
  api.route({
    method: "POST",
    url: "/api/LegalHoldMembershipDeactivation",
    auth: "user",
    summary: "Removes a custodian from a matter",
    tags,
    handler: async ({ p, body }) => {
      await svc.removeCustodian(p, guidValue(bodyObject(body).legalHoldMembershipUid, "legalHoldMembershipUid"));
      return NO_CONTENT;
    },
  });
  api.route({
    method: "POST",
    url: "/api/v4/legal-hold-deactivation/update",
    auth: "user",
    summary: "Closes a matter",
    tags,
    handler: async ({ p, body }) => {
      await svc.setMatterActive(p, guidValue(bodyObject(body).legalHoldUid, "legalHoldUid"), false);
      return NO_CONTENT;
    },
  });
  api.route({
    method: "PUT",
    url: "/api/LegalHoldReactivation/:legalHoldUid",
    auth: "user",
    summary: "Reopens a matter",
    tags,
    handler: async ({ p, params }) => {
      await svc.setMatterActive(p, pathGuid(params.legalHoldUid, "legalHoldUid"), true);
      return NO_CONTENT;
    },
  });
  api.route({
    method: "GET",
    url: "/api/LegalHoldEventReport",
    auth: "user",
    summary: "Legal-hold events ordered by date (legalHoldUid, minEventDate, maxEventDate inclusive)",
    tags,
    handler: async ({ p, query }) => {
      const hold = queryValue(query, "legalHoldUid");
      const min = eventDate(query, "minEventDate");
      const max = eventDate(query, "maxEventDate");
      const r = await svc.events(
        p,
        {
          ...(hold ? { holdUid: guidValue(hold, "legalHoldUid") } : {}),
          ...(min !== undefined ? { minEventAt: min } : {}),
          ...(max !== undefined ? { maxEventAt: max } : {}),
        },
        pageParams(query),
      );
      const users = await usersById(
        ctx.store,
        p,
        r.items.flatMap((e) => [e.custodianUserId, e.actorUserId]),
      );
      return { totalCount: r.total, legalHoldEvents: r.items.map((e) => eventJson(e, users)) };
    },
  });
}
