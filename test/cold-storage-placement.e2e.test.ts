import type { Py42Client } from "@cairn/authority/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backUpOneFileEach, type Cluster, type ClusterAgent, startCluster } from "./helpers/cluster.js";
import { archiveOf as archiveGuidOf, nodePlacement as nodePlacementOf, placementsPushed, userIdOf as userIdOfAgent } from "./helpers/placements.js";

let c: Cluster;
let py: Py42Client;
let a1: ClusterAgent;
let a2: ClusterAgent;
let arc1: string;
let arc2: string;
let deptOrgId: number;

const nodePlacement = (archiveGuid: string) => nodePlacementOf(c, archiveGuid);
const pushed = () => placementsPushed(c);
const archiveOf = (a: ClusterAgent) => archiveGuidOf(py, a);
const userIdOf = (a: ClusterAgent) => userIdOfAgent(py, a);

beforeAll(async () => {
  c = await startCluster({ agents: 1 });
  py = c.authority.py42();
  const dept = (await py.data("POST", "/api/Org/", { orgName: "Cold dept", orgExtRef: null, notes: null, parentOrgUid: c.authority.orgUid })) as {
    orgId: number;
    registrationKey: string;
  };
  deptOrgId = dept.orgId;
  a1 = c.agents[0] as ClusterAgent;
  a2 = await c.addAgent({ registrationKey: dept.registrationKey, username: "dept@example.com", password: "dept password 1" });
  await backUpOneFileEach([a1, a2]);
  arc1 = await archiveOf(a1);
  arc2 = await archiveOf(a2);
}, 120_000);
afterAll(async () => {
  await c?.dispose();
});

describe("deactivation tells the storage node the archives are cold", () => {
  it("a user's deactivation through the REST API: the node's placement says cold; reactivation: warm again", async () => {
    expect([nodePlacement(arc1).cold, nodePlacement(arc2).cold]).toEqual([false, false]);
    const userId = await userIdOf(a1);
    expect((await py.call("PUT", `/api/UserDeactivation/${userId}`, { blockUser: null })).status).toBe(204);
    await pushed();
    expect(nodePlacement(arc1).cold).toBe(true);
    expect(nodePlacement(arc2).cold).toBe(false);
    expect((await py.call("DELETE", `/api/UserDeactivation/${userId}`)).status).toBe(204);
    await pushed();
    expect(nodePlacement(arc1).cold).toBe(false);
  });

  it("an org's deactivation: its users' archives are cold on the node, others not; reactivation: warm again", async () => {
    expect((await py.call("PUT", `/api/OrgDeactivation/${deptOrgId}`)).status).toBe(204);
    await pushed();
    expect(nodePlacement(arc2).cold).toBe(true);
    expect(nodePlacement(arc1).cold).toBe(false);
    expect((await py.call("DELETE", `/api/OrgDeactivation/${deptOrgId}`)).status).toBe(204);
    await pushed();
    expect(nodePlacement(arc2).cold).toBe(false);
  });
});
