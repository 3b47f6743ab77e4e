/**
 * Zip restores under attack, with all three daemons on 127.0.0.1 (RELIABILITY.md):
 * - T37: the web restore limit is computed on the server from catalog sizes (a client-declared
 *   size means nothing), the user limit for users and the admin limit for Org Managers, open
 *   zips count against it (parallel splitting), 0 disables (the restore session already says
 *   `zipRestoreAllowed: false`), -1 is unlimited;
 * - T11 (zip part): a download cut at a random byte count is detectable (shorter than its
 *   Content-Length, the job's expected size; `unzip -t` fails), and the zip stays downloadable:
 *   the full download afterwards passes;
 * - T35: a malicious agent's hostile entry names never make it into the zip: every entry an
 *   independent parser lists is a normalized relative path, the rest is listed in the warnings
 *   file, and the zip is valid.
 */
import { randomBytes, randomInt } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, startCluster } from "./helpers/cluster.js";
import { commitHostileVersion } from "./helpers/hostile-archive.js";
import { Py42Restore, RestoreStepError, unzipTest, zipEntries } from "./helpers/restore-client.js";

const MB = 1024 * 1024;
let c: Cluster;
let admin: Py42Restore;
let owner: Py42Restore;
let manager: Py42Restore;
let limitedOrgId: number;
let limitedHome: string;
let limitedDevice: string;
const parts: Buffer[] = [randomBytes(0.9 * MB), randomBytes(0.9 * MB), randomBytes(0.9 * MB)];
const big = randomBytes(2.2 * MB);

async function refusal(p: Promise<unknown>): Promise<string | undefined> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof RestoreStepError)) throw new Error(`expected a refusal, got ${String(e)}`);
  return e.errorName;
}

beforeAll(async () => {
  c = await startCluster({ agents: 1 });
  admin = new Py42Restore(c.authority, c.authority.py42());
  const py = c.authority.py42();
  const org = (await py.data("POST", "/api/Org/", { orgName: "Limited org", orgExtRef: null, notes: null, parentOrgUid: c.authority.orgUid })) as {
    orgId: number;
    registrationKey: string;
  };
  limitedOrgId = org.orgId;
  await py.data("PUT", `/api/v1/orgs/${org.orgId}/settings`, { groups: { quota: { values: { webRestoreUserLimitMb: 1, webRestoreAdminLimitMb: 3 } } } });
  const a = await c.addAgent({ registrationKey: org.registrationKey, username: "limited@example.com", password: "limited password 1" });
  limitedHome = a.home;
  limitedDevice = a.registration.guid;
  writeFileSync(join(a.home, "big.bin"), big);
  for (const [i, b] of parts.entries()) writeFileSync(join(a.home, `p${i + 1}.bin`), b);
  a.select();
  expect((await a.backup()).errors).toBe(0);
  const orgUid = ((await py.data("GET", `/api/Org/${org.orgId}`)) as { orgUid: string }).orgUid;
  await py.data("POST", "/api/User", {
    orgUid,
    username: "manager@example.com",
    email: null,
    password: "manager password 1",
    firstName: null,
    lastName: null,
    notes: null,
  });
  const m = (await py.data("GET", "/api/User?username=manager@example.com&pgNum=1&pgSize=1")) as { users: { userId: number }[] };
  await py.data("POST", "/api/UserRole", { userId: m.users[0]?.userId, roleName: "Org Manager" });
  owner = new Py42Restore(c.authority, c.authority.py42("limited@example.com", "limited password 1"));
  manager = new Py42Restore(c.authority, c.authority.py42("manager@example.com", "manager password 1"));
  const home = c.agents[0]!;
  writeFileSync(join(home.home, "payload.bin"), randomBytes(3 * MB));
  home.select();
  expect((await home.backup()).errors).toBe(0);
}, 120_000);
afterAll(async () => {
  for (const x of [admin, owner, manager]) x?.close();
  await c?.dispose();
});

describe("T37: the web restore limit", () => {
  it("refuses a user's 2.2 MB selection over the 1 MB limit, whatever size the client declares", async () => {
    expect(await refusal(owner.zip(limitedDevice, [`${limitedHome}/big.bin`]))).toBe("WEB_RESTORE_LIMIT_EXCEEDED");
    expect(owner.log.at(-1)).toMatchObject({ step: "10 restore", status: 400 });
  });

  it("lets an Org Manager restore it under the administrators' limit", async () => {
    const { zip } = await manager.zip(limitedDevice, [`${limitedHome}/big.bin`]);
    expect((await zipEntries(zip.body)).get("big.bin")?.equals(big)).toBe(true);
  });

  it("counts open zips against the limit: parallel 0.9 MB requests, one at a time", async () => {
    const tries = await Promise.allSettled(parts.map((_, i) => owner.startWeb(limitedDevice, [`${limitedHome}/p${i + 1}.bin`])));
    const ok = tries.filter((t) => t.status === "fulfilled") as PromiseFulfilledResult<string>[];
    expect(ok).toHaveLength(1);
    expect(tries.filter((t) => t.status === "rejected").map((t) => (t as PromiseRejectedResult).reason.errorName)).toEqual([
      "WEB_RESTORE_LIMIT_EXCEEDED",
      "WEB_RESTORE_LIMIT_EXCEEDED",
    ]);
    const first = await owner.result(ok[0]?.value as string);
    expect(first.status).toBe(200);
    // once downloaded, the next one fits
    const { zip } = await owner.zip(limitedDevice, [`${limitedHome}/p2.bin`]);
    expect((await zipEntries(zip.body)).get("p2.bin")?.equals(parts[1] as Buffer)).toBe(true);
  });

  it("0 disables zip restores for that audience; -1 is unlimited", async () => {
    const py = c.authority.py42();
    expect((await owner.openSession(limitedDevice)).zipRestoreAllowed).toBe(true);
    await py.data("PUT", `/api/v1/orgs/${limitedOrgId}/settings`, { groups: { quota: { values: { webRestoreUserLimitMb: 0, webRestoreAdminLimitMb: -1 } } } });
    // the session already says so (a console does not offer the zip), and the job is refused
    expect((await owner.openSession(limitedDevice)).zipRestoreAllowed).toBe(false);
    expect((await manager.openSession(limitedDevice)).zipRestoreAllowed).toBe(true);
    expect(await refusal(owner.zip(limitedDevice, [`${limitedHome}/p3.bin`]))).toBe("WEB_RESTORE_LIMIT_EXCEEDED");
    const { zip } = await manager.zip(limitedDevice, [limitedHome]);
    expect((await zipEntries(zip.body)).size).toBeGreaterThanOrEqual(5);
  });
});

describe("T11: a cut zip download is detectable and not a success", () => {
  it("cuts the stream at a random byte count: shorter than announced, fails unzip -t; the retry is whole", async () => {
    const home = c.agents[0]!.home;
    const deviceGuid = c.agents[0]!.registration.guid;
    const jobId = await admin.startWeb(deviceGuid, [`${home}/payload.bin`]);
    const job = await admin.waitJob(jobId);
    const expected = job.expectedBytes as number;
    const cutAt = randomInt(1000, expected - 1000);
    const cut = await admin.result(jobId, undefined, cutAt);
    expect(cut.truncated).toBe(true);
    expect(cut.body.length).toBeLessThan(Number(cut.headers["content-length"]));
    expect(Number(cut.headers["content-length"])).toBe(expected);
    expect(unzipTest(cut.body, join(c.dir, "cut.zip")).ok).toBe(false);
    const events = async () => (await c.authority.ctx.store.restoreEventsOfJob(jobId)).map((e) => e.status);
    let full = await admin.result(jobId);
    // the server notices the cut socket on its own time: a download still in flight is a 409
    for (let i = 0; full.status === 409 && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 50));
      full = await admin.result(jobId);
    }
    expect(full.truncated).toBe(false);
    expect(full.body.length).toBe(expected);
    expect(unzipTest(full.body, join(c.dir, "full.zip")).ok).toBe(true);
    expect((await events()).filter((x) => x === "COMPLETED").length).toBeLessThanOrEqual(1);
    expect((await events())[0]).toBe("STARTED");
  });
});

describe("T35: zip-slip", () => {
  const hostile = [
    "../../etc/x",
    "C:\\x",
    "..\\..\\x",
    "a/../../b",
    "a/./b",
    `/long/${"n".repeat(300)}`,
    "/nul/x\u0000y",
    "/dots/\u2025/x",
    "/dots/\uff0e\uff0e/y",
    "/ctl/bell\u0007",
    "//double",
  ];

  it("lists only normalized relative names, skips the rest into the warnings file, and stays valid", async () => {
    const deviceGuid = c.agents[0]!.registration.guid;
    await commitHostileVersion(c.authority, deviceGuid, [
      ...hostile.map((path) => ({ path })),
      { path: "/abs/x", content: Buffer.from("absolute is fine once relative\n") },
      { path: "/ok/\u00e9t\u00e9.txt", content: Buffer.from("été\n") },
      { path: "/ln", type: "symlink" as const, target: "/etc/passwd" },
    ]);
    const { zip } = await admin.zip(deviceGuid, ["/"], { showDeleted: false });
    expect(unzipTest(zip.body, join(c.dir, "slip.zip")).ok).toBe(true);
    const entries = await zipEntries(zip.body);
    for (const name of entries.keys()) {
      expect(name.startsWith("/"), name).toBe(false);
      expect(/^[A-Za-z]:/.test(name), name).toBe(false);
      expect(name.includes("\\"), name).toBe(false);
      expect(/[\u0000-\u001f]/.test(name), name).toBe(false);
      for (const part of name.replace(/\/$/, "").split("/")) {
        expect(["", ".", ".."].includes(part.normalize("NFKC")), name).toBe(false);
      }
    }
    expect(entries.get("abs/x")?.toString()).toBe("absolute is fine once relative\n");
    expect(entries.get("ok/\u00e9t\u00e9.txt")?.toString()).toBe("été\n");
    expect([...entries.keys()].some((n) => n.endsWith(`${c.agents[0]!.home.slice(1)}/a.txt`) || n.includes("home1/"))).toBe(true);
    const warnings = entries.get("RESTORE-WARNINGS.txt")?.toString() ?? "";
    for (const h of hostile) {
      const shown = JSON.stringify(h.startsWith("/") ? h : `/${h}`);
      expect(warnings, h).toContain(shown.slice(1, 20));
    }
    expect(warnings).toContain('"/ln"');
  });
});
