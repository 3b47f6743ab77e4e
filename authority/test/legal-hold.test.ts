/**
 * Legal hold (API.md §11) the way py42 drives it: policies (a bare [] when there are none),
 * matters, custodians, the platform's error names (USER_ALREADY_IN_HOLD, "At least one criteria
 * must be specified", ACTIVE_LEGAL_HOLD, 403 for an unknown or invisible matter), releasing a
 * custodian, closing and reopening, and the event report with its date filters.
 */
import { ManualClock } from "@cairn/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Py42Client, startTestAuthority, type TestAuthority } from "../src/testing.js";
import { type Caller, caller, createOrg, createUser, dataOf, errorName } from "./api-fixture.js";

const clock = new ManualClock(Date.UTC(2026, 3, 1, 9, 0, 0));
let a: TestAuthority;
let admin: Caller;
let py: Py42Client;
let legalOrg: { orgId: number; orgUid: string };
let otherOrg: { orgId: number; orgUid: string };
let custodian: { userId: number; userUid: string };
let legal: Caller;
let outsider: Caller;

beforeAll(async () => {
  a = await startTestAuthority({ clock });
  admin = await caller(a, a.adminUsername, a.adminPassword);
  py = a.py42();
  legalOrg = await createOrg(admin, "Legal dept", a.orgUid);
  otherOrg = await createOrg(admin, "Other dept", a.orgUid);
  custodian = await createUser(admin, legalOrg.orgUid, "custodian@example.com");
  await createUser(admin, legalOrg.orgUid, "counsel@example.com", ["Org Legal Admin"]);
  await createUser(admin, otherOrg.orgUid, "outsider@example.com", ["Org Legal Admin"]);
  legal = await caller(a, "counsel@example.com", "password123");
  outsider = await caller(a, "outsider@example.com", "password123");
});
afterAll(async () => {
  await a.dispose();
});

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe("legal hold (API.md §11)", () => {
  let policyUid: string;
  let holdUid: string;
  let membershipUid: string;

  it("lists no policies as a bare [], creates the default and a custom policy, views and lists them", async () => {
    const empty = await py.call("GET", "/api/v4/legal-hold-policy/list");
    expect(empty.status).toBe(200);
    expect(empty.json).toEqual([]);
    const def = (await py.data("POST", "/api/v4/legal-hold-policy/create", { name: "Default", policy: null })) as Record<string, unknown>;
    expect(def).toMatchObject({ name: "Default", creatorUser: { username: a.adminUsername } });
    expect(def.legalHoldPolicyUid).toMatch(/^[1-9]\d{17}$/);
    expect(def.policy).toMatchObject({ retention: { deletedRetentionMs: -1 } });
    expect(def.creationDate).toMatch(ISO);
    policyUid = def.legalHoldPolicyUid as string;
    const custom = (await py.data("POST", "/api/v4/legal-hold-policy/create", { name: "Mail only", policy: { include: ["/home/"] } })) as Record<
      string,
      unknown
    >;
    expect(custom.policy).toEqual({ include: ["/home/"] });
    expect(await py.data("GET", `/api/v4/legal-hold-policy/view?legalHoldPolicyUid=${policyUid}`)).toMatchObject({ name: "Default" });
    const list = (await py.data("GET", "/api/v4/legal-hold-policy/list")) as { legalHoldPolicyUid: string }[];
    expect(list.map((p) => p.legalHoldPolicyUid)).toEqual([policyUid, custom.legalHoldPolicyUid]);
  });

  it("creates a matter and answers 403 for an unknown matter and for one the caller may not see", async () => {
    const m = dataOf(
      await legal.send("POST", "/api/LegalHold", { name: "Case 7", holdPolicyUid: policyUid, description: "contract dispute", notes: null, holdExtRef: "C-7" }),
    );
    expect(m).toMatchObject({
      name: "Case 7",
      description: "contract dispute",
      notes: null,
      holdExtRef: "C-7",
      active: true,
      holdPolicyUid: policyUid,
      creator: { username: "counsel@example.com" },
    });
    holdUid = m.legalHoldUid as string;
    expect(await py.data("GET", `/api/LegalHold/${holdUid}`)).toMatchObject({ legalHoldUid: holdUid, name: "Case 7" });
    const unknown = await py.call("GET", "/api/LegalHold/123456789012345678");
    expect(unknown.status).toBe(403);
    const invisible = await outsider.get(`/api/LegalHold/${holdUid}`);
    expect(invisible.status).toBe(403);
    // adding to (or listing) a matter one cannot see is the same 403 (T24)
    expect(await outsider.send("POST", "/api/LegalHoldMembership", { legalHoldUid: holdUid, userUid: custodian.userUid })).toMatchObject({ status: 403 });
    expect((await outsider.get(`/api/LegalHoldMembership?pgNum=1&pgSize=10&legalHoldUid=${holdUid}`)).status).toBe(403);
    const bad = await legal.send("POST", "/api/LegalHold", {
      name: "No policy",
      holdPolicyUid: "123456789012345678",
      description: null,
      notes: null,
      holdExtRef: null,
    });
    expect(bad.status).toBe(400);
  });

  it("lists matters by activeState (ACTIVE by default), name and holdExtRef, scoped to the caller", async () => {
    const all = await py.allPages("/api/LegalHold?activeState=ACTIVE", "legalHolds");
    expect(all.items.map((h) => (h as { legalHoldUid: string }).legalHoldUid)).toContain(holdUid);
    expect(((await py.data("GET", "/api/LegalHold?pgNum=1&pgSize=10&name=case")) as { totalCount: number }).totalCount).toBe(1);
    expect(((await py.data("GET", "/api/LegalHold?pgNum=1&pgSize=10&holdExtRef=C-8")) as { totalCount: number }).totalCount).toBe(0);
    expect(((await py.data("GET", "/api/LegalHold?pgNum=1&pgSize=10&activeState=INACTIVE")) as { totalCount: number }).totalCount).toBe(0);
    expect(dataOf(await outsider.get("/api/LegalHold?pgNum=1&pgSize=10"))).toEqual({ totalCount: 0, legalHolds: [] });
  });

  it("adds a custodian; adding again is USER_ALREADY_IN_HOLD (twice, as py42 repeats) and changes nothing", async () => {
    const m = (await py.data("POST", "/api/LegalHoldMembership", { legalHoldUid: holdUid, userUid: custodian.userUid })) as Record<string, unknown>;
    expect(m).toMatchObject({
      active: true,
      legalHold: { legalHoldUid: holdUid, name: "Case 7" },
      user: { userUid: custodian.userUid, username: "custodian@example.com" },
    });
    membershipUid = m.legalHoldMembershipUid as string;
    const again = await py.call("POST", "/api/LegalHoldMembership", { legalHoldUid: holdUid, userUid: custodian.userUid });
    expect(again.status).toBe(400);
    expect(again.text).toContain("USER_ALREADY_IN_HOLD");
    expect(py.log.slice(-2).map((x) => x.status)).toEqual([400, 400]);
    const unknownUser = await py.call("POST", "/api/LegalHoldMembership", { legalHoldUid: holdUid, userUid: "123456789012345678" });
    expect(unknownUser.status).toBe(404);
  });

  it("lists memberships by any criterion and refuses a list without one", async () => {
    const none = await py.call("GET", "/api/LegalHoldMembership?pgNum=1&pgSize=10&activeState=ACTIVE");
    expect(none.status).toBe(400);
    expect(none.text).toContain("At least one criteria must be specified");
    for (const q of [`legalHoldUid=${holdUid}`, `userUid=${custodian.userUid}`, `legalHoldMembershipUid=${membershipUid}`, "user=CUSTODIAN"]) {
      const r = (await py.data("GET", `/api/LegalHoldMembership?pgNum=1&pgSize=10&${q}`)) as { totalCount: number; legalHoldMemberships: unknown[] };
      expect(r.totalCount, q).toBe(1);
    }
  });

  it("refuses deactivating a custodian, their org or an ancestor with ACTIVE_LEGAL_HOLD, and changes nothing", async () => {
    const r = await py.call("PUT", `/api/UserDeactivation/${custodian.userId}`);
    expect(r.status).toBe(400);
    expect(r.text).toContain("ACTIVE_LEGAL_HOLD");
    expect(errorName(await admin.send("PUT", `/api/OrgDeactivation/${legalOrg.orgId}`))).toBe("ACTIVE_LEGAL_HOLD");
    expect((dataOf(await admin.get(`/api/User/${custodian.userId}`)) as { active: boolean }).active).toBe(true);
  });

  it("releases the custodian: deactivation works; re-adding reactivates the same membership", async () => {
    clock.advance(60_000);
    expect((await py.call("POST", "/api/LegalHoldMembershipDeactivation", { legalHoldMembershipUid: membershipUid })).status).toBe(204);
    const inactive = (await py.data("GET", `/api/LegalHoldMembership?pgNum=1&pgSize=10&activeState=INACTIVE&legalHoldUid=${holdUid}`)) as {
      totalCount: number;
    };
    expect(inactive.totalCount).toBe(1);
    expect((await py.call("PUT", `/api/UserDeactivation/${custodian.userId}`)).status).toBe(204);
    expect((await py.call("DELETE", `/api/UserDeactivation/${custodian.userId}`)).status).toBe(204);
    clock.advance(60_000);
    const back = (await py.data("POST", "/api/LegalHoldMembership", { legalHoldUid: holdUid, userUid: custodian.userUid })) as Record<string, unknown>;
    expect(back.legalHoldMembershipUid).toBe(membershipUid);
    expect(back.active).toBe(true);
  });

  it("closes and reopens the matter; a closed matter holds nobody and takes no custodians", async () => {
    clock.advance(60_000);
    expect((await py.call("POST", "/api/v4/legal-hold-deactivation/update", { legalHoldUid: holdUid })).status).toBe(204);
    expect(await py.data("GET", `/api/LegalHold/${holdUid}`)).toMatchObject({ active: false });
    expect(await a.ctx.store.isOnActiveHold(custodian.userId)).toBe(false);
    const other = await createUser(admin, legalOrg.orgUid, "late@example.com");
    expect((await py.call("POST", "/api/LegalHoldMembership", { legalHoldUid: holdUid, userUid: other.userUid })).status).toBe(400);
    clock.advance(60_000);
    expect((await py.call("PUT", `/api/LegalHoldReactivation/${holdUid}`)).status).toBe(204);
    expect(await a.ctx.store.isOnActiveHold(custodian.userId)).toBe(true);
  });

  it("reports every event in date order, filtered by matter and inclusive dates", async () => {
    const r = (await py.data("GET", `/api/LegalHoldEventReport?pgNum=1&pgSize=100&legalHoldUid=${holdUid}`)) as {
      totalCount: number;
      legalHoldEvents: Record<string, unknown>[];
    };
    expect(r.legalHoldEvents.map((e) => e.eventType)).toEqual([
      "HoldCreated",
      "MembershipCreated",
      "MembershipDeactivated",
      "MembershipReactivated",
      "HoldDeactivated",
      "HoldReactivated",
    ]);
    expect(r.legalHoldEvents[1]).toMatchObject({
      legalHoldUid: holdUid,
      legalHoldMembershipUid: membershipUid,
      custodianUserUid: custodian.userUid,
      custodianUsername: "custodian@example.com",
      actorUsername: a.adminUsername,
    });
    expect(r.legalHoldEvents[0]?.eventDate).toMatch(ISO);
    const at = r.legalHoldEvents[2]?.eventDate as string;
    const one = (await py.data("GET", `/api/LegalHoldEventReport?pgNum=1&pgSize=100&minEventDate=${at}&maxEventDate=${at}`)) as {
      legalHoldEvents: { eventType: string }[];
    };
    expect(one.legalHoldEvents.map((e) => e.eventType)).toEqual(["MembershipDeactivated"]);
    expect(dataOf(await outsider.get("/api/LegalHoldEventReport?pgNum=1&pgSize=10"))).toEqual({ totalCount: 0, legalHoldEvents: [] });
  });
});
