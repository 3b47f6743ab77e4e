/**
 * The organization list as the console's tree pages through it: `GET /api/Org?parentOrgId=N`
 * filters, sorts and pages the direct children in SQL (not a walk of the whole subtree), and
 * `incCounts` counts each listed org's devices through `devices.org_id`, so a page of 50 orgs
 * costs the same whether the authority holds 100 devices or 100,000 (issue 7's 1-second list).
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../src/db/migrate.js";
import { openDatabase } from "../src/db/open.js";
import { SqliteOrgQueries } from "../src/db/sqlite/org-queries.js";
import { type Params, SqlRunner } from "../src/db/sqlite/runner.js";
import { SqliteUsageQueries } from "../src/db/sqlite/usage-queries.js";
import { startTestAuthority, type TestAuthority } from "../src/testing.js";
import { type Caller, caller, createOrg, createUser, dataOf, PartBRows } from "./api-fixture.js";
import { tempDir } from "./helpers.js";

interface OrgRow {
  orgId: number;
  orgName: string;
  computerCount?: number;
  userCount?: number;
}

describe("GET /api/Org?parentOrgId: the direct children, paged by the server", () => {
  let a: TestAuthority;
  let admin: Caller;
  let parent: { orgId: number; orgUid: string };
  const names = ["Delta", "alpha", "Charlie", "bravo", "Echo"];
  const kids = new Map<string, { orgId: number; orgUid: string }>();
  const list = async (query: string) => dataOf<{ totalCount: number; orgs: OrgRow[] }>(await admin.get(`/api/Org?parentOrgId=${parent.orgId}&${query}`));

  beforeAll(async () => {
    a = await startTestAuthority();
    admin = await caller(a, a.adminUsername, a.adminPassword);
    parent = await createOrg(admin, "Parent", a.orgUid);
    for (const n of names) kids.set(n, await createOrg(admin, n, parent.orgUid));
    await createOrg(admin, "Grandchild", (kids.get("alpha") as { orgUid: string }).orgUid);
    await createOrg(admin, "Sibling of the parent", a.orgUid);
  });
  afterAll(async () => {
    await a?.dispose();
  });

  it("lists only the direct children, in orgId order by default, one page at a time", async () => {
    const all = await list("pgNum=1&pgSize=50");
    expect(all.totalCount).toBe(5);
    expect(all.orgs.map((o) => o.orgName)).toEqual(names);
    const p2 = await list("pgNum=2&pgSize=2");
    expect(p2).toMatchObject({ totalCount: 5 });
    expect(p2.orgs.map((o) => o.orgName)).toEqual(["Charlie", "bravo"]);
    expect((await list("pgNum=4&pgSize=2")).orgs).toEqual([]);
  });

  it("sorts by name on the server, across pages", async () => {
    const p1 = await list("pgNum=1&pgSize=3&srtKey=orgName&srtDir=desc");
    const p2 = await list("pgNum=2&pgSize=3&srtKey=orgName&srtDir=desc");
    expect([...p1.orgs, ...p2.orgs].map((o) => o.orgName)).toEqual(["Echo", "Delta", "Charlie", "bravo", "alpha"]);
  });

  it("filters by status and name", async () => {
    const gone = kids.get("Charlie") as { orgId: number };
    expect((await admin.send("PUT", `/api/OrgDeactivation/${gone.orgId}`)).status).toBe(204);
    const active = await list("pgNum=1&pgSize=50&active=true");
    expect(active.totalCount).toBe(4);
    expect(active.orgs.map((o) => o.orgName)).not.toContain("Charlie");
    expect((await list("pgNum=1&pgSize=50&active=false")).orgs.map((o) => o.orgName)).toEqual(["Charlie"]);
    expect((await list("pgNum=1&pgSize=50&q=ALP")).orgs.map((o) => o.orgName)).toEqual(["alpha"]);
    expect((await admin.send("DELETE", `/api/OrgDeactivation/${gone.orgId}`)).status).toBe(204);
  });

  it("counts each child's devices, follows a user's move, and sorts by those counts", async () => {
    const rows = new PartBRows(a);
    const from = kids.get("Delta") as { orgId: number; orgUid: string };
    const to = kids.get("Echo") as { orgId: number; orgUid: string };
    const u = await createUser(admin, from.orgUid, "mover@example.com");
    for (let i = 0; i < 3; i++) rows.device(u.userId, `laptop-${i}`, 1);
    const before = await list("pgNum=1&pgSize=50&incCounts=True");
    expect(before.orgs.find((o) => o.orgId === from.orgId)).toMatchObject({ userCount: 1, computerCount: 3 });
    expect((await admin.send("POST", "/api/UserMoveProcess", { userId: u.userId, parentOrgId: to.orgId })).status).toBe(204);
    const after = await list("pgNum=1&pgSize=50&incCounts=True&srtKey=computerCount&srtDir=desc");
    expect(after.orgs[0]).toMatchObject({ orgId: to.orgId, userCount: 1, computerCount: 3 });
    expect(after.orgs.find((o) => o.orgId === from.orgId)).toMatchObject({ userCount: 0, computerCount: 0 });
  });
});

/** A runner that keeps the query plan of every statement it runs. */
class PlanRecorder extends SqlRunner {
  readonly plans: { sql: string; plan: string[] }[] = [];
  private record(sql: string, params: Params): void {
    const plan = this.db
      .prepare(["EXPLAIN QUERY PLAN", sql].join(" "))
      .all(...params)
      .map((r) => (r as { detail: string }).detail);
    this.plans.push({ sql, plan });
  }
  override get<T>(sql: string, ...params: Params): T | undefined {
    this.record(sql, params);
    return super.get<T>(sql, ...params);
  }
  override all<T>(sql: string, ...params: Params): T[] {
    this.record(sql, params);
    return super.all<T>(sql, ...params);
  }
}

describe("the org list's queries read devices by org", () => {
  // SQLite chose to walk every active device once per listed org when the counts joined devices
  // to users (0.8 s for a page of 50 orgs among 100,000 devices). Every step over `devices` must
  // now be a search keyed by the org (or the user), whatever the index is called.
  const deviceSteps = (r: PlanRecorder) => r.plans.flatMap((p) => p.plan).filter((d) => /^(SCAN|SEARCH) d\b/.test(d));

  it("counts, ages and count sorts search devices by org_id", async () => {
    const db = openDatabase(join(tempDir(), "plans.db"));
    try {
      migrate(db, { now: 1 });
      const r = new PlanRecorder(db);
      const usage = new SqliteUsageQueries(r);
      await usage.orgCounts([1, 2, 3]);
      await usage.deviceBackupAges([1, 2, 3]);
      const orgs = new SqliteOrgQueries(r);
      for (const key of ["computerCount", "userCount", "orgName"])
        await orgs.listOrgs({ scope: { kind: "all" }, parentId: 1, active: true, sort: { key, dir: "desc" } }, { offset: 0, limit: 50 });
      const steps = deviceSteps(r);
      expect(steps.length).toBeGreaterThan(0);
      for (const s of steps) expect(s).toMatch(/^SEARCH d .*\((?:active=\? AND )?(?:org_id|user_id)=\?/);
    } finally {
      db.close();
    }
  });
});
