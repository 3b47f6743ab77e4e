/**
 * What the storage node keeps follows the authority while the node runs (API.md §5, §11), with
 * all three daemons on 127.0.0.1 and the placements read from the node's own registry
 * (`node.db`):
 * - an org's retention and quota change, a user's quota change and a user's move to an org with
 *   other settings reach the running node's archive placements without a reconnect;
 * - a custodian's archive keeps every version while on active hold (added, removed, re-added,
 *   matter closed and reopened), and the org's retention again once the hold ends;
 * - a custodian's archive sent to cold storage (a move to an org that does not offer its
 *   destination) is not purged: purge now is refused with ACTIVE_LEGAL_HOLD and nothing is
 *   deleted, the scheduled purge leaves it in cold storage; once the hold ends it is purged.
 */
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { listSelection } from "@cairn/agent";
import { operationsOf } from "@cairn/authority";
import type { Py42Client } from "@cairn/authority/testing";
import { DAY_MS, DEFAULT_RETENTION, HOUR_MS, systemClock } from "@cairn/protocol";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backUpOneFileEach, type Cluster, type ClusterAgent, startCluster } from "./helpers/cluster.js";
import { archiveOf as archiveGuidOf, nodePlacement as nodePlacementOf, placementsPushed, userIdOf as userIdOfAgent } from "./helpers/placements.js";

const KEEP_ALL = { bands: [{ untilAgeMs: -1, spacingMs: 0 }], deletedRetentionMs: -1 };
const ORG_RETENTION = {
  bands: [
    { untilAgeMs: 30 * DAY_MS, spacingMs: HOUR_MS },
    { untilAgeMs: -1, spacingMs: 7 * DAY_MS },
  ],
  deletedRetentionMs: 90 * DAY_MS,
};
const CHILD_RETENTION = { bands: [{ untilAgeMs: -1, spacingMs: DAY_MS }], deletedRetentionMs: 30 * DAY_MS };

let c: Cluster;
let py: Py42Client;
let a1: ClusterAgent;
let a2: ClusterAgent;
let topOrgId: number;
let arc1: string;
let arc2: string;

const nodePlacement = (archiveGuid: string) => nodePlacementOf(c, archiveGuid);
const pushed = () => placementsPushed(c);
const archiveOf = (a: ClusterAgent) => archiveGuidOf(py, a);
const userIdOf = (a: ClusterAgent) => userIdOfAgent(py, a);

/** The backup sets of the configuration the agent last fetched from the authority. */
function agentSets(a: ClusterAgent): Array<{ legalHold: boolean; locked: boolean }> {
  const db = new Database(join(a.dataDir, "agent.db"), { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare("SELECT value FROM kv WHERE key = 'config'").get() as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as { settings: { backupSets: Array<{ legalHold: boolean; locked: boolean }> } }).settings.backupSets : [];
  } finally {
    db.close();
  }
}

function filesOf(dir: string, archiveGuid: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      if (p.includes(archiveGuid)) out.push(p);
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

beforeAll(async () => {
  c = await startCluster({ agents: 2 });
  py = c.authority.py42();
  topOrgId = ((await py.data("GET", "/api/Org/my")) as { orgId: number }).orgId;
  [a1, a2] = c.agents as [ClusterAgent, ClusterAgent];
  await backUpOneFileEach([a1, a2]);
  arc1 = await archiveOf(a1);
  arc2 = await archiveOf(a2);
}, 120_000);
afterAll(async () => {
  await c?.dispose();
});

describe("settings changes reach the running node", () => {
  it("an org's retention change reaches the placement of every archive of the org", async () => {
    expect(nodePlacement(arc1).retention).toEqual(DEFAULT_RETENTION);
    expect((await py.call("PUT", `/api/v1/orgs/${topOrgId}/settings`, { groups: { device: { values: { retention: ORG_RETENTION } } } })).status).toBe(200);
    await pushed();
    for (const g of [arc1, arc2]) expect(nodePlacement(g).retention).toEqual(ORG_RETENTION);
  });

  it("the org's default user quota, then a user's own quota, reach the placements", async () => {
    expect(nodePlacement(arc1).quotaBytes).toBe(-1);
    await py.data("PUT", `/api/v1/orgs/${topOrgId}/settings`, { groups: { quota: { values: { defaultUserMaxBytes: 5_000_000_000 } } } });
    await pushed();
    expect([nodePlacement(arc1).quotaBytes, nodePlacement(arc2).quotaBytes]).toEqual([5_000_000_000, 5_000_000_000]);
    await py.data("PUT", `/api/User/${a2.registration.userUid}?idType=uid`, { quotaInBytes: 7_000_000_000 });
    await pushed();
    expect([nodePlacement(arc1).quotaBytes, nodePlacement(arc2).quotaBytes]).toEqual([5_000_000_000, 7_000_000_000]);
  });

  it("a user moved to an org with its own retention gets that org's retention", async () => {
    const child = (await py.data("POST", "/api/Org/", { orgName: "Keeps less", orgExtRef: null, notes: null, parentOrgUid: c.authority.orgUid })) as {
      orgId: number;
    };
    await py.data("PUT", `/api/v1/orgs/${child.orgId}/settings`, { groups: { device: { values: { retention: CHILD_RETENTION } } } });
    expect((await py.call("POST", "/api/UserMoveProcess", { userId: await userIdOf(a2), parentOrgId: child.orgId })).status).toBe(204);
    await pushed();
    expect(nodePlacement(arc2)).toMatchObject({ retention: CHILD_RETENTION, cold: false });
    expect(nodePlacement(arc1).retention).toEqual(ORG_RETENTION);
  });
});

describe("legal hold keeps every version of a custodian", () => {
  let holdUid: string;
  let membershipUid: string;

  it("a custodian's placement keeps everything once added, and the org's retention once removed", async () => {
    const policy = (await py.data("POST", "/api/v4/legal-hold-policy/create", { name: "Default", policy: null })) as { legalHoldPolicyUid: string };
    holdUid = (
      (await py.data("POST", "/api/LegalHold", {
        name: "Case 12",
        holdPolicyUid: policy.legalHoldPolicyUid,
        description: null,
        notes: null,
        holdExtRef: null,
      })) as {
        legalHoldUid: string;
      }
    ).legalHoldUid;
    const m = (await py.data("POST", "/api/LegalHoldMembership", { legalHoldUid: holdUid, userUid: a1.registration.userUid })) as {
      legalHoldMembershipUid: string;
    };
    membershipUid = m.legalHoldMembershipUid;
    await pushed();
    expect(nodePlacement(arc1).retention).toEqual(KEEP_ALL);
    // the custodian's device gets the hidden, locked hold set and keeps backing up what its user chose
    writeFileSync(join(a1.home, "during-hold.txt"), "written while on hold\n");
    let r = await a1.backup();
    for (let i = 0; i < 20 && !agentSets(a1).some((s) => s.legalHold); i++) r = await a1.backup();
    expect(agentSets(a1).filter((s) => s.legalHold)).toEqual([expect.objectContaining({ legalHold: true, locked: true })]);
    r = await a1.backup();
    expect(listSelection({ dataDir: a1.dataDir }).locked).toBe(false);
    expect([r.errors, r.files]).toEqual([0, 2]);
    expect(nodePlacement(arc2).retention).toEqual(CHILD_RETENTION);
    // an org retention change while on hold does not lower it
    await py.data("PUT", `/api/v1/orgs/${topOrgId}/settings`, { groups: { device: { values: { retention: DEFAULT_RETENTION } } } });
    await pushed();
    expect(nodePlacement(arc1).retention).toEqual(KEEP_ALL);
    await py.data("PUT", `/api/v1/orgs/${topOrgId}/settings`, { groups: { device: { values: { retention: ORG_RETENTION } } } });
    expect((await py.call("POST", "/api/LegalHoldMembershipDeactivation", { legalHoldMembershipUid: membershipUid })).status).toBe(204);
    await pushed();
    expect(nodePlacement(arc1).retention).toEqual(ORG_RETENTION);
  });

  it("closing the matter releases its custodians' archives, reopening it holds them again", async () => {
    await py.data("POST", "/api/LegalHoldMembership", { legalHoldUid: holdUid, userUid: a1.registration.userUid });
    await pushed();
    expect(nodePlacement(arc1).retention).toEqual(KEEP_ALL);
    expect((await py.call("POST", "/api/v4/legal-hold-deactivation/update", { legalHoldUid: holdUid })).status).toBe(204);
    await pushed();
    expect(nodePlacement(arc1).retention).toEqual(ORG_RETENTION);
    expect((await py.call("PUT", `/api/LegalHoldReactivation/${holdUid}`)).status).toBe(204);
    await pushed();
    expect(nodePlacement(arc1).retention).toEqual(KEEP_ALL);
  });

  it("a held archive in cold storage is not purged: purge now is refused, the schedule leaves it; after the hold it goes", async () => {
    const bare = (await py.data("POST", "/api/Org/", { orgName: "No storage", orgExtRef: null, notes: null, parentOrgUid: c.authority.orgUid })) as {
      orgId: number;
    };
    await py.data("PUT", `/api/v1/orgs/${bare.orgId}/destinations`, { inherit: false, destinations: [] });
    expect((await py.call("POST", "/api/UserMoveProcess", { userId: await userIdOf(a1), parentOrgId: bare.orgId })).status).toBe(204);
    await pushed();
    expect(nodePlacement(arc1)).toMatchObject({ cold: true, retention: KEEP_ALL });
    expect(((await py.data("GET", `/api/Archive/${arc1}`)) as { isColdStorage: boolean }).isColdStorage).toBe(true);
    const storePoint = c.nodes[0]?.storePointDir as string;
    const before = filesOf(storePoint, arc1);
    expect(before.length).toBeGreaterThan(0);

    const refused = await py.call("POST", "/api/v1/cold-storage/purge", { archiveGuids: [arc1] });
    expect(refused.status).toBe(400);
    expect(refused.text).toContain("ACTIVE_LEGAL_HOLD");
    expect(filesOf(storePoint, arc1)).toEqual(before);
    expect((await c.authority.ctx.store.getArchiveByGuid(arc1))?.wrappedArchiveKey).not.toBeNull();

    await py.data("PUT", `/api/coldStorage/${arc1}?idType=guid`, { archiveHoldExpireDate: "2020-01-01" });
    const cold = operationsOf(c.authority.ctx).coldStorage;
    const run = await cold.purgeDue(systemClock.now());
    expect(run.purged).not.toContain(arc1);
    expect(run.held).toContain(arc1);
    expect(filesOf(storePoint, arc1)).toEqual(before);
    const stored = await c.authority.ctx.store.getArchiveByGuid(arc1);
    expect([stored?.cold, stored?.purgedAt, stored?.wrappedArchiveKey === null]).toEqual([true, null, false]);

    const m = (await py.data("GET", `/api/LegalHoldMembership?pgNum=1&pgSize=10&legalHoldUid=${holdUid}&activeState=ACTIVE`)) as {
      legalHoldMemberships: { legalHoldMembershipUid: string }[];
    };
    await py.call("POST", "/api/LegalHoldMembershipDeactivation", { legalHoldMembershipUid: m.legalHoldMemberships[0]?.legalHoldMembershipUid });
    expect(await cold.purgeDue(systemClock.now())).toMatchObject({ purged: [arc1], deleted: [arc1], held: [] });
    expect(filesOf(storePoint, arc1)).toEqual([]);
  });
});
