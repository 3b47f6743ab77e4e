/**
 * Cold storage and legal hold end to end (API.md §7.2, §11; RELIABILITY.md T15), with all three
 * daemons on 127.0.0.1:
 * - a custodian's device cannot be deactivated (ACTIVE_LEGAL_HOLD), their devices get the hidden
 *   legal-hold backup set, releasing the hold allows it, and the event report lists it all;
 * - deactivating a device sends its archive to cold storage with purge date today + the org's
 *   period; the date changes; reactivation before it brings the archive back with its data;
 * - the node-cron schedule purges at a given time, not before: the storage node deletes every
 *   block of the archive, the wrapped archive key is destroyed, and nobody can restore it;
 * - moving a user to an org that does not offer the destination cold-stores that archive; purge
 *   now deletes at once; the CSV has the source document's columns in order.
 */
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { operationsOf } from "@cairn/authority";
import type { Py42Client } from "@cairn/authority/testing";
import { DAY_MS, isoDate, systemClock } from "@cairn/protocol";
import { getTasks } from "node-cron";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backUpOneFileEach, type Cluster, type ClusterAgent, startCluster } from "./helpers/cluster.js";
import { Py42Restore, type RestoreStepError, zipEntries } from "./helpers/restore-client.js";

let c: Cluster;
let py: Py42Client;
let a1: ClusterAgent;
let a2: ClusterAgent;
let topOrgId: number;
let dev1: { computerId: number; guid: string; archiveGuid: string };
let dev2: { computerId: number; guid: string; archiveGuid: string };

async function deviceOf(a: ClusterAgent): Promise<{ computerId: number; guid: string; archiveGuid: string }> {
  const d = (await py.data("GET", `/api/Computer/${a.registration.guid}?idType=guid&incBackupUsage=True`)) as {
    computerId: number;
    guid: string;
    backupUsage: { archiveGuid: string }[];
  };
  return { computerId: d.computerId, guid: d.guid, archiveGuid: d.backupUsage[0]?.archiveGuid as string };
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      out.push(p);
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

type ColdList = { totalCount: number; coldStorageRows: Record<string, unknown>[] };
const coldRows = async () =>
  ((await py.data("GET", `/api/ColdStorage?orgId=${topOrgId}&incChildOrgs=True&srtKey=archiveHoldExpireDate&srtDir=asc&pgSize=500&pgNum=1`)) as ColdList)
    .coldStorageRows;

beforeAll(async () => {
  c = await startCluster({ agents: 2 });
  py = c.authority.py42();
  topOrgId = ((await py.data("GET", "/api/Org/my")) as { orgId: number }).orgId;
  [a1, a2] = c.agents as [ClusterAgent, ClusterAgent];
  await backUpOneFileEach([a1, a2]);
  dev1 = await deviceOf(a1);
  dev2 = await deviceOf(a2);
}, 120_000);
afterAll(async () => {
  await c?.dispose();
});

describe("legal hold on a real device", () => {
  let membershipUid: string;
  let holdUid: string;

  it("refuses deactivating a custodian's device, gives it the legal-hold set, and allows it once released", async () => {
    const policy = (await py.data("POST", "/api/v4/legal-hold-policy/create", { name: "Default", policy: null })) as { legalHoldPolicyUid: string };
    const hold = (await py.data("POST", "/api/LegalHold", {
      name: "Case 9",
      holdPolicyUid: policy.legalHoldPolicyUid,
      description: null,
      notes: null,
      holdExtRef: null,
    })) as {
      legalHoldUid: string;
    };
    holdUid = hold.legalHoldUid;
    const m = (await py.data("POST", "/api/LegalHoldMembership", { legalHoldUid: holdUid, userUid: a1.registration.userUid })) as {
      legalHoldMembershipUid: string;
    };
    membershipUid = m.legalHoldMembershipUid;
    const r = await py.call("POST", "/api/v4/computer-deactivation/update", { id: dev1.computerId });
    expect(r.status).toBe(400);
    expect(r.text).toContain("ACTIVE_LEGAL_HOLD");
    const sets = (await py.data("GET", `/c42api/v3/BackupSets/${dev1.guid}/${c.destination.destinationGuid}`)) as {
      backupSets: { backupSetId: string; name: string }[];
    };
    expect(sets.backupSets.map((s) => s.name)).toContain("Legal hold: Case 9");
    // a restore of a custodian's data is an event of the hold
    const admin = new Py42Restore(c.authority, py);
    const { zip } = await admin.zip(dev1.guid, [`${a1.home}/keep.txt`]);
    expect((await zipEntries(zip.body)).get("keep.txt")?.toString()).toBe(`kept by ${a1.username}\n`);
    admin.close();
    expect((await py.call("POST", "/api/LegalHoldMembershipDeactivation", { legalHoldMembershipUid: membershipUid })).status).toBe(204);
  });

  it("lists the custodian's events in the report", async () => {
    const r = (await py.data("GET", `/api/LegalHoldEventReport?pgNum=1&pgSize=100&legalHoldUid=${holdUid}`)) as {
      legalHoldEvents: { eventType: string; custodianUsername: string | null }[];
    };
    expect(r.legalHoldEvents.map((e) => e.eventType)).toEqual(["HoldCreated", "MembershipCreated", "Restore", "MembershipDeactivated"]);
    expect(r.legalHoldEvents[2]?.custodianUsername).toBe(a1.username);
  });
});

describe("cold storage lifecycle (T15)", () => {
  it("deactivation sends the archive to cold storage until today + the org's period", async () => {
    expect((await py.call("POST", "/api/v4/computer-deactivation/update", { id: dev1.computerId })).status).toBe(204);
    const row = (await coldRows()).find((r) => r.archiveGuid === dev1.archiveGuid);
    expect(row).toMatchObject({
      archiveType: "BACKUP",
      archiveHoldExpireDate: isoDate(systemClock.now() + 365 * DAY_MS),
      sourceComputerGuid: dev1.guid,
      sourceUserUsername: a1.username,
      storePointName: expect.any(String),
      serverName: "node1",
    });
    expect((row?.archiveBytes as number) > 0).toBe(true);
    expect(((await py.data("GET", `/api/Archive/${dev1.archiveGuid}`)) as { isColdStorage: boolean }).isColdStorage).toBe(true);
  });

  it("changes the purge date, and reactivation before it brings the archive back with its data", async () => {
    const tomorrow = isoDate(systemClock.now() + DAY_MS);
    expect(await py.data("PUT", `/api/coldStorage/${dev1.archiveGuid}?idType=guid`, { archiveHoldExpireDate: tomorrow })).toMatchObject({
      archiveHoldExpireDate: tomorrow,
    });
    expect((await py.call("POST", "/api/v4/computer-deactivation/remove", { id: dev1.computerId })).status).toBe(204);
    expect((await coldRows()).some((r) => r.archiveGuid === dev1.archiveGuid)).toBe(false);
    expect(((await py.data("GET", `/api/Archive/${dev1.archiveGuid}`)) as { isColdStorage: boolean }).isColdStorage).toBe(false);
    expect((await operationsOf(c.authority.ctx).coldStorage.purgeDue(systemClock.now() + 2 * DAY_MS)).purged).not.toContain(dev1.archiveGuid);
    const admin = new Py42Restore(c.authority, py);
    const { zip } = await admin.zip(dev1.guid, [`${a1.home}/keep.txt`]);
    expect((await zipEntries(zip.body)).get("keep.txt")?.toString()).toBe(`kept by ${a1.username}\n`);
    admin.close();
  });

  it("purges by the schedule at a given time, not before: no block remains on the node, and nobody restores it", async () => {
    const cold = operationsOf(c.authority.ctx).coldStorage;
    const task = [...getTasks().values()].find((t) => t.name === `cairn-cold-storage-purge-${c.authority.ctx.authorityGuid}`);
    expect(task?.getPattern()).toBe("0 3 * * *");
    expect((await py.call("POST", "/api/v4/computer-deactivation/update", { id: dev1.computerId })).status).toBe(204);
    const day = systemClock.now() + 3 * DAY_MS;
    await py.data("PUT", `/api/coldStorage/${dev1.archiveGuid}?idType=guid`, { archiveHoldExpireDate: isoDate(day) });
    const storePoint = c.nodes[0]?.storePointDir as string;
    expect(filesUnder(storePoint).some((f) => f.includes(dev1.archiveGuid))).toBe(true);
    expect((await cold.purgeDue(Date.parse(`${isoDate(day - DAY_MS)}T23:59:00Z`))).purged).toEqual([]);
    const run = await cold.purgeDue(Date.parse(`${isoDate(day)}T03:00:00Z`));
    expect(run).toMatchObject({ purged: [dev1.archiveGuid], deleted: [dev1.archiveGuid], pending: [] });
    expect(filesUnder(storePoint).filter((f) => f.includes(dev1.archiveGuid))).toEqual([]);
    const listed = await c.authority.ctx.nodes.call(c.nodes[0]?.serverId as number, "list-archives", {});
    expect(listed.archives.some((x) => x.archiveGuid === dev1.archiveGuid)).toBe(false);
    expect((await c.authority.ctx.store.getArchiveByGuid(dev1.archiveGuid))?.wrappedArchiveKey).toBeNull();
    expect((await coldRows()).some((r) => r.archiveGuid === dev1.archiveGuid)).toBe(false);
    // nobody can restore it: not the administrator through the authority, not the device itself
    const usage = (await py.data("GET", `/api/Computer/${dev1.guid}?idType=guid&incBackupUsage=True`)) as { backupUsage: unknown[] };
    expect(usage.backupUsage).toEqual([]);
    const admin = new Py42Restore(c.authority, py);
    const err = await admin.openSession(dev1.guid, {}, c.destination.destinationGuid).then(
      () => undefined,
      (e: unknown) => e as RestoreStepError,
    );
    expect(err?.answer.status).toBe(404);
    admin.close();
    await expect(a1.restore({ target: join(c.dir, "after-purge"), paths: [`${a1.home}/`] })).rejects.toThrow();
  });

  it("the registered task runs the purge: a past date is purged at its next run", async () => {
    const a3 = await c.addAgent();
    writeFileSync(join(a3.home, "x.txt"), "x\n");
    a3.select();
    await a3.backup();
    const d3 = await deviceOf(a3);
    await py.call("POST", "/api/v4/computer-deactivation/update", { id: d3.computerId });
    await py.data("PUT", `/api/coldStorage/${d3.archiveGuid}?idType=guid`, { archiveHoldExpireDate: "2020-01-01" });
    const task = [...getTasks().values()].find((t) => t.name === `cairn-cold-storage-purge-${c.authority.ctx.authorityGuid}`);
    await task?.execute();
    expect((await c.authority.ctx.store.getArchiveByGuid(d3.archiveGuid))?.purgedAt).not.toBeNull();
    expect(filesUnder(c.nodes[0]?.storePointDir as string).filter((f) => f.includes(d3.archiveGuid))).toEqual([]);
  });
});

describe("moves, purge now and the CSV", () => {
  it("a move to an org that does not offer the destination cold-stores the archive; purge now deletes it at once", async () => {
    const bare = (await py.data("POST", "/api/Org/", { orgName: "Bare org", orgExtRef: null, notes: null, parentOrgUid: c.authority.orgUid })) as {
      orgId: number;
    };
    await py.data("PUT", `/api/v1/orgs/${bare.orgId}/destinations`, { inherit: false, destinations: [] });
    const user = (await py.data("GET", `/api/User/${a2.registration.userUid}?idType=uid`)) as { userId: number };
    expect((await py.call("POST", "/api/UserMoveProcess", { userId: user.userId, parentOrgId: bare.orgId })).status).toBe(204);
    const row = (await coldRows()).find((r) => r.archiveGuid === dev2.archiveGuid);
    expect(row).toMatchObject({ orgName: "Bare org", sourceComputerGuid: dev2.guid });
    const csv = await c.authority.client.request("POST", "/api/v1/cold-storage/export", {
      bearer: py.token as string,
      body: { orgId: topOrgId, incChildOrgs: true, archiveGuids: null },
    });
    const [header, ...lines] = csv.text.trim().split("\r\n");
    expect(header).toBe(
      "archiveGuid,id,archiveBytes,archiveType,sourceUserId,sourceUserUsername,sourceUserFirstName,sourceUserLastName,sourceUserEmail,sourceComputerId,sourceComputerName,sourceComputerOsHostname,sourceComputerService,purgeDate,orgId,orgName,storePointId,storePointName,serverName",
    );
    const line = lines.find((l) => l.startsWith(dev2.archiveGuid))?.split(",") ?? [];
    expect([line[3], line[5], line[9], line[15], line[18]]).toEqual(["BACKUP", a2.username, String(dev2.computerId), "Bare org", "node1"]);
    expect(await py.data("POST", "/api/v1/cold-storage/purge", { archiveGuids: [dev2.archiveGuid] })).toMatchObject({ purged: 1, deleted: 1, pending: 0 });
    expect(filesUnder(c.nodes[0]?.storePointDir as string).filter((f) => f.includes(dev2.archiveGuid))).toEqual([]);
  });

  it("a user moved away and back gets the archive out of cold storage, and backs up again", async () => {
    const a5 = await c.addAgent();
    writeFileSync(join(a5.home, "z.txt"), "z\n");
    a5.select();
    await a5.backup();
    const d5 = await deviceOf(a5);
    const home = (await py.data("GET", `/api/User/${a5.registration.userUid}?idType=uid`)) as { userId: number; orgId: number };
    const away = (await py.data("POST", "/api/Org/", { orgName: "Away org", orgExtRef: null, notes: null, parentOrgUid: c.authority.orgUid })) as {
      orgId: number;
    };
    await py.data("PUT", `/api/v1/orgs/${away.orgId}/destinations`, { inherit: false, destinations: [] });
    expect((await py.call("POST", "/api/UserMoveProcess", { userId: home.userId, parentOrgId: away.orgId })).status).toBe(204);
    expect((await coldRows()).some((r) => r.archiveGuid === d5.archiveGuid)).toBe(true);
    expect((await py.call("POST", "/api/UserMoveProcess", { userId: home.userId, parentOrgId: home.orgId })).status).toBe(204);
    expect((await coldRows()).some((r) => r.archiveGuid === d5.archiveGuid)).toBe(false);
    writeFileSync(join(a5.home, "z.txt"), "z again\n");
    await expect.poll(async () => (await a5.backup().catch((e: Error) => ({ errors: -1, message: e.message }))).errors, { timeout: 20_000 }).toBe(0);
  });

  it("an offer turned off sends the org's archives on it to cold storage; turned on again, they come back", async () => {
    const a6 = await c.addAgent();
    writeFileSync(join(a6.home, "w.txt"), "w\n");
    a6.select();
    await a6.backup();
    const d6 = await deviceOf(a6);
    const org = (await py.data("POST", "/api/Org/", { orgName: "Offer org", orgExtRef: null, notes: null, parentOrgUid: c.authority.orgUid })) as {
      orgId: number;
    };
    const user = (await py.data("GET", `/api/User/${a6.registration.userUid}?idType=uid`)) as { userId: number };
    expect((await py.call("POST", "/api/UserMoveProcess", { userId: user.userId, parentOrgId: org.orgId })).status).toBe(204);
    expect((await coldRows()).some((r) => r.archiveGuid === d6.archiveGuid)).toBe(false);
    const offers = (await py.data("GET", `/api/v1/orgs/${org.orgId}/destinations`)) as { destinations: { destinationId: number }[] };
    const off = offers.destinations.map((d) => ({ destinationId: d.destinationId, offered: false, autoStart: false }));
    await py.data("PUT", `/api/v1/orgs/${org.orgId}/destinations`, { inherit: false, destinations: off });
    expect((await coldRows()).find((r) => r.archiveGuid === d6.archiveGuid)).toMatchObject({ orgName: "Offer org" });
    await py.data("PUT", `/api/v1/orgs/${org.orgId}/destinations`, { inherit: true });
    expect((await coldRows()).some((r) => r.archiveGuid === d6.archiveGuid)).toBe(false);
  });

  it("an archive purged while its node is offline stays listed, marked pending, until the node has deleted it", async () => {
    const a4 = await c.addAgent();
    writeFileSync(join(a4.home, "y.txt"), "y\n");
    a4.select();
    await a4.backup();
    const d4 = await deviceOf(a4);
    await py.call("POST", "/api/v4/computer-deactivation/update", { id: d4.computerId });
    const node = c.nodes[0] as (typeof c.nodes)[number];
    await node.stop();
    try {
      expect(await py.data("POST", "/api/v1/cold-storage/purge", { archiveGuids: [d4.archiveGuid] })).toMatchObject({ purged: 1, deleted: 0, pending: 1 });
      // the key is gone (nobody restores it), but its blocks still take space on the node
      expect((await coldRows()).find((r) => r.archiveGuid === d4.archiveGuid)).toMatchObject({ purgePending: true });
      expect(filesUnder(node.storePointDir).some((f) => f.includes(d4.archiveGuid))).toBe(true);
    } finally {
      await node.restart();
    }
    // the next run finishes on the node, and only then does the archive leave cold storage
    const task = [...getTasks().values()].find((t) => t.name === `cairn-cold-storage-purge-${c.authority.ctx.authorityGuid}`);
    await expect
      .poll(
        async () => {
          await task?.execute();
          return (await coldRows()).some((r) => r.archiveGuid === d4.archiveGuid);
        },
        { timeout: 20_000, interval: 500 },
      )
      .toBe(false);
    expect(filesUnder(node.storePointDir).filter((f) => f.includes(d4.archiveGuid))).toEqual([]);
  }, 60_000);
});
