/**
 * Zip (web) restores end to end (API.md §8, §9) with all three daemons on 127.0.0.1: an agent
 * backs up a tree to a storage node enrolled into the authority; py42's sequence (session, tree
 * walk, size polling, job, result) downloads a zip from the authority acting as storage server,
 * which passes `unzip -t` and whose files match the originals byte for byte when read by an
 * independent parser. Also: the exact announced length (T11), case-insensitive matching, bare
 * `[]` for an empty folder, full paths, only the requesting user's credentials fetch the result
 * (T28), cancellation, an empty selection, and the history rows with their CSV.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { operationsOf } from "@cairn/authority";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, startCluster } from "./helpers/cluster.js";
import { Py42Restore, type RestoreStepError, unzipTest, zipEntries } from "./helpers/restore-client.js";

let c: Cluster;
let admin: Py42Restore;
let owner: Py42Restore;
let home: string;
let deviceGuid: string;
const files: Record<string, Buffer> = {
  "a.txt": Buffer.from("hello cairn\n"),
  "docs/report.bin": randomBytes(2_500_000),
  "docs/deep/empty.txt": Buffer.alloc(0),
  "docs/Notes.md": Buffer.from("# notes\n"),
};

beforeAll(async () => {
  c = await startCluster({ agents: 1 });
  const a = c.agents[0]!;
  home = a.home;
  deviceGuid = a.registration.guid;
  mkdirSync(join(home, "docs", "deep"), { recursive: true });
  mkdirSync(join(home, "emptydir"));
  for (const [p, b] of Object.entries(files)) writeFileSync(join(home, p), b);
  a.select();
  const r = await a.backup();
  expect(r.errors).toBe(0);
  admin = new Py42Restore(c.authority, c.authority.py42());
  owner = new Py42Restore(c.authority, c.authority.py42(a.username, a.password));
}, 120_000);
afterAll(async () => {
  admin?.close();
  owner?.close();
  await c?.dispose();
});

describe("zip restore (API.md §8)", () => {
  it("restores a folder as a zip that passes unzip -t and matches the originals byte for byte", async () => {
    const { job, zip } = await admin.zip(deviceGuid, [home]);
    expect(job).toMatchObject({ done: true, status: "done", zipResult: true, numFiles: 4 });
    expect(zip.status).toBe(200);
    expect(zip.headers["content-type"]).toBe("application/zip");
    expect(zip.headers["content-disposition"]).toMatch(/^attachment; filename="restore-[A-Za-z0-9_-]+\.zip"$/);
    expect(Number(zip.headers["content-length"])).toBe(zip.body.length);
    expect(job.expectedBytes).toBe(zip.body.length);
    expect(zip.truncated).toBe(false);
    expect(unzipTest(zip.body, join(c.dir, "home.zip")).ok).toBe(true);
    const entries = await zipEntries(zip.body);
    for (const [p, b] of Object.entries(files)) expect(entries.get(`home1/${p}`)?.equals(b), p).toBe(true);
    expect(entries.has("home1/emptydir/")).toBe(true);
    expect(entries.has("RESTORE-WARNINGS.txt")).toBe(false);
  });

  it("walks the tree like py42: one root, children by path case-insensitively, bare [] for an empty folder", async () => {
    const s = await owner.openSession(deviceGuid);
    const set = await owner.backupSetId(deviceGuid, s.destinationGuid);
    const roots = await owner.nodes(s.sessionId, deviceGuid, set);
    expect(roots.map((r) => r.path)).toEqual(["/"]);
    const shouting = await owner.find(s.sessionId, deviceGuid, set, `${home}/DOCS/notes.MD`);
    expect(shouting).toMatchObject({ path: `${home}/docs/Notes.md`, type: "file", deleted: false });
    expect(shouting.id).toMatch(/^[0-9a-f]{32}$/);
    const empty = await owner.find(s.sessionId, deviceGuid, set, `${home}/emptydir`);
    const r = await c.authority.client.request(
      "GET",
      `/api/WebRestoreTreeNode?webRestoreSessionId=${s.sessionId}&guid=${deviceGuid}&backupSetId=${set}&showDeleted=True&fileId=${empty.id}`,
      { headers: { authorization: owner.token } },
    );
    expect(r.status).toBe(200);
    expect(r.text).toBe("[]");
    const docs = await owner.find(s.sessionId, deviceGuid, set, `${home}/docs`);
    expect(await owner.size(deviceGuid, docs.id)).toEqual({ status: "DONE", numFiles: 3, numDirs: 2, size: 2_500_000 + 8 });
    expect(serverUrlIsOrigin(s.serverUrl)).toBe(true);
  });

  it("restores a single file under its base name, and full paths with restoreFullPath", async () => {
    const one = await owner.zip(deviceGuid, [`${home}/docs/report.bin`]);
    const e1 = await zipEntries(one.zip.body);
    expect([...e1.keys()]).toEqual(["report.bin"]);
    expect(e1.get("report.bin")?.equals(files["docs/report.bin"] as Buffer)).toBe(true);
    const full = await owner.zip(deviceGuid, [`${home}/a.txt`], { restoreFullPath: true });
    expect([...(await zipEntries(full.zip.body)).keys()]).toEqual([`${home.slice(1)}/a.txt`]);
  });

  it("lets only the requesting user fetch the result, with the storage token or their JWT", async () => {
    const jobId = await admin.startWeb(deviceGuid, [`${home}/a.txt`]);
    await admin.waitJob(jobId);
    expect((await owner.result(jobId)).status).toBe(404);
    expect((await admin.result(jobId, "Bearer not-a-token")).status).toBe(401);
    expect((await admin.result(jobId, "")).status).toBe(401);
    const viaJwt = await admin.result(jobId, `Bearer ${admin.py.token}`);
    expect(viaJwt.status).toBe(200);
    expect((await zipEntries(viaJwt.body)).get("a.txt")?.toString()).toBe("hello cairn\n");
    // downloaded again at once, as often as the user likes until it expires (API.md §8)
    for (let i = 0; i < 5; i++) expect((await admin.result(jobId)).status, `download ${i + 2}`).toBe(200);
  });

  it("cancels a job: it ends done:true, status canceled, and its result is gone", async () => {
    const jobId = await admin.startWeb(deviceGuid, [`${home}/a.txt`]);
    const del = await c.authority.client.request("DELETE", "/api/WebRestoreJob", { headers: { authorization: admin.token }, body: { jobId } });
    expect(del.status).toBe(204);
    expect(await admin.waitJob(jobId)).toMatchObject({ done: true, status: "canceled", canceled: true });
    expect((await admin.result(jobId)).status).toBe(404);
  });

  it("answers 400 for an empty selection and 404 for an unknown job", async () => {
    const s = await admin.openSession(deviceGuid);
    const err = await admin
      .call("10 restore", "POST", "/api/v9/restore/web", {
        sourceComputerGuid: deviceGuid,
        webRestoreSessionId: s.sessionId,
        restoreGroups: [{ backupSetId: "1", files: [] }],
      })
      .catch((e: RestoreStepError) => e);
    expect((err as RestoreStepError).answer.status).toBe(400);
    const unknown = await c.authority.client.request("GET", "/api/WebRestoreJob/AAAAAAAAAAAAAAAAAAAAAA", { headers: { authorization: admin.token } });
    expect(unknown.status).toBe(404);
  });

  it("records every restore at creation and at its end, and lists them in the history and its CSV", async () => {
    const ctx = c.authority.ctx;
    const list = (await c.authority.py42().data("GET", "/api/RestoreHistory?pgNum=1&pgSize=100&days=1")) as {
      totalCount: number;
      restoreEvents: Record<string, unknown>[];
    };
    const completed = list.restoreEvents.filter((e) => e.status === "COMPLETED" && e.restoreType === "WEB");
    expect(completed.length).toBeGreaterThanOrEqual(4);
    const first = completed.at(-1) as Record<string, unknown>;
    expect(first).toMatchObject({ sourceComputerGuid: deviceGuid, requestingUsername: c.authority.adminUsername, restoredByAnotherUser: true, numFiles: 4 });
    expect((await ctx.store.restoreEventsOfJob(first.jobId as string)).map((e) => e.status)).toEqual(["STARTED", "COMPLETED"]);
    expect(list.restoreEvents.some((e) => e.status === "CANCELED")).toBe(true);
    const own = list.restoreEvents.find((e) => e.requestingUsername === c.agents[0]?.username);
    expect(own?.restoredByAnotherUser).toBe(false);
    const csv = await c.authority.client.request("GET", "/api/v1/restore-history/export?days=1", { bearer: admin.py.token as string });
    expect(csv.status).toBe(200);
    expect(csv.text.split("\r\n")[0]).toBe(
      "eventUid,operatingSystem,user,restoredByAnotherUser,requestingUser,restoreTo,numFiles,numBytes,transferRateBytesPerSec,restoreDate,durationMs,restoreType,status",
    );
    expect(csv.text).toContain(`,${c.agents[0]?.username},TRUE,${c.authority.adminUsername},Download (zip),4,`);
    expect(operationsOf(ctx).restoreJobs).toBeDefined();
    // the audit log names who restored which device's files, one entry per job
    const audit = (await c.authority.py42().data("GET", "/api/v1/audit-log?action=restore.web&pgNum=1&pgSize=500")) as {
      auditEntries: Array<{ actorUsername: string; targetType: string; details: { jobId: string; files: number } }>;
    };
    const entry = audit.auditEntries.find((e) => e.details.jobId === first.jobId);
    expect(entry).toMatchObject({ actorUsername: c.authority.adminUsername, targetType: "device", details: { files: 4 } });
  });
});

describe("deleted files and expiry", () => {
  it("shows a deleted file only with showDeleted, and restores its last content then", async () => {
    const a = c.agents[0]!;
    writeFileSync(join(home, "gone.txt"), "soon deleted\n");
    expect((await a.backup()).errors).toBe(0);
    rmSync(join(home, "gone.txt"));
    expect((await a.backup()).errors).toBe(0);
    const s = await owner.openSession(deviceGuid);
    const set = await owner.backupSetId(deviceGuid, s.destinationGuid);
    const folder = await owner.find(s.sessionId, deviceGuid, set, home);
    const shown = await owner.nodes(s.sessionId, deviceGuid, set, folder.id, true);
    expect(shown.find((n) => n.path === `${home}/gone.txt`)).toMatchObject({ deleted: true, type: "file" });
    const hidden = await owner.nodes(s.sessionId, deviceGuid, set, folder.id, false);
    expect(hidden.some((n) => n.path === `${home}/gone.txt`)).toBe(false);
    const without = await owner.zip(deviceGuid, [home], { showDeleted: false });
    expect((await zipEntries(without.zip.body)).has("home1/gone.txt")).toBe(false);
    const withDeleted = await owner.zip(deviceGuid, [home], { showDeleted: true });
    expect((await zipEntries(withDeleted.zip.body)).get("home1/gone.txt")?.toString()).toBe("soon deleted\n");
    // the deleted file itself, as py42 restores it: its sizing (step 8 sends showDeleted null) finds it
    const gone = shown.find((n) => n.path === `${home}/gone.txt`) as { id: string };
    expect(await owner.size(deviceGuid, gone.id)).toEqual({ status: "DONE", numFiles: 1, numDirs: 0, size: 13 });
    const alone = await owner.zip(deviceGuid, [`${home}/gone.txt`], { showDeleted: true });
    expect([...(await zipEntries(alone.zip.body)).entries()].map(([n, b]) => [n, b.toString()])).toEqual([["gone.txt", "soon deleted\n"]]);
  });

  it("keeps a result only until it expires: then the job is done, canceled, and the zip is gone", async () => {
    const restores = operationsOf(c.authority.ctx).restores;
    restores.configure({ resultTtlMs: 200 });
    try {
      const jobId = await admin.startWeb(deviceGuid, [`${home}/a.txt`]);
      await new Promise((r) => setTimeout(r, 300));
      expect((await admin.result(jobId)).status).toBe(404);
      expect(await admin.waitJob(jobId)).toMatchObject({ done: true, status: "canceled" });
      expect((await c.authority.ctx.store.restoreEventsOfJob(jobId)).map((e) => e.status)).toEqual(["STARTED", "CANCELED"]);
    } finally {
      restores.configure({ resultTtlMs: 24 * 60 * 60_000 });
    }
  });
});

describe("a failure while streaming", () => {
  it("ends the job done:true, status failed, and the result answers 500 RESTORE_FAILED", async () => {
    const jobId = await admin.startWeb(deviceGuid, [`${home}/docs/report.bin`]);
    await c.nodes[0]?.stop();
    const cut = await admin.result(jobId);
    expect(cut.truncated).toBe(true);
    let job = await admin.waitJob(jobId);
    for (let i = 0; job.status === "done" && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 20));
      job = await admin.waitJob(jobId);
    }
    expect(job).toMatchObject({ done: true, status: "failed" });
    const again = await admin.result(jobId);
    expect(again.status).toBe(500);
    expect(again.body.toString()).toContain("RESTORE_FAILED");
    expect((await c.authority.ctx.store.restoreEventsOfJob(jobId)).map((e) => e.status)).toEqual(["STARTED", "FAILED"]);
  });
});

function serverUrlIsOrigin(u: string): boolean {
  const x = new URL(u);
  return x.origin === u && x.protocol === "https:";
}
