/**
 * Push restores (API.md §10) with all three daemons: device 1's backup goes to device 2, whose
 * agent daemon holds its control link, through py42's `stream_to_device` sequence
 * (`connectedServerUrl`, a session on that URL with the JWT, `WebRestoreInfo`, `restore/push`);
 * into a target folder with existing files renamed, never overwritten, or to the original
 * location overwriting; an offline target is 400 CREATE_FAILED (and `connectedServerUrl` null);
 * a bad combination is CREATE_FAILED too; the history shows the receiving device.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type AgentHandle, startAgent } from "@cairn/agent";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, startCluster } from "./helpers/cluster.js";
import { Py42Restore, type RestoreStepError } from "./helpers/restore-client.js";

let c: Cluster;
let admin: Py42Restore;
let daemon2: AgentHandle | null = null;
let src: { guid: string; home: string };
let dst: { guid: string; home: string; dataDir: string; deviceId: number };
const report = randomBytes(700_000);

async function connected(deviceId: number, yes: boolean): Promise<void> {
  for (let i = 0; i < 400 && c.authority.ctx.agents.isConnected(deviceId) !== yes; i++) await new Promise((r) => setTimeout(r, 25));
  expect(c.authority.ctx.agents.isConnected(deviceId)).toBe(yes);
}

beforeAll(async () => {
  c = await startCluster({ agents: 2 });
  const [a1, a2] = c.agents as [NonNullable<(typeof c.agents)[0]>, NonNullable<(typeof c.agents)[0]>];
  mkdirSync(join(a1.home, "docs"), { recursive: true });
  writeFileSync(join(a1.home, "docs", "report.bin"), report);
  writeFileSync(join(a1.home, "docs", "note.txt"), "from device 1\n");
  mkdirSync(join(a1.home, "links"));
  symlinkSync("../docs/note.txt", join(a1.home, "links", "latest-note"));
  a1.select();
  expect((await a1.backup()).errors).toBe(0);
  src = { guid: a1.registration.guid, home: a1.home };
  const d2 = await c.authority.ctx.store.getDeviceByGuid(a2.registration.guid);
  dst = { guid: a2.registration.guid, home: a2.home, dataDir: a2.dataDir, deviceId: d2?.deviceId as number };
  daemon2 = await startAgent({ dataDir: a2.dataDir, clock: c.clock, logger: c.logger, tickMs: 0, localApi: false });
  await connected(dst.deviceId, true);
  admin = new Py42Restore(c.authority, c.authority.py42());
}, 120_000);
afterAll(async () => {
  await daemon2?.close();
  admin?.close();
  await c?.dispose();
});

describe("push restore (API.md §10)", () => {
  it("restores into a folder of another device, renaming what is already there (RENAME_ORIGINAL)", async () => {
    const target = join(dst.home, "restored");
    mkdirSync(join(target, "docs"), { recursive: true });
    writeFileSync(join(target, "docs", "note.txt"), "device 2's own note\n");
    const jobId = await admin.push(src.guid, dst.guid, [`${src.home}/docs`], { restorePath: target, existingFiles: "RENAME_ORIGINAL" });
    expect(await admin.waitPlatformJob(jobId)).toMatchObject({ done: true, status: "done", zipResult: false, restoreType: "PUSH" });
    expect(readFileSync(join(target, "docs", "report.bin")).equals(report)).toBe(true);
    // the restored file takes the name; the file that was there is renamed, not overwritten
    expect(readFileSync(join(target, "docs", "note.txt"), "utf8")).toBe("from device 1\n");
    expect(readdirSync(join(target, "docs")).sort()).toEqual(["note (original).txt", "note.txt", "report.bin"]);
    expect(readFileSync(join(target, "docs", "note (original).txt"), "utf8")).toBe("device 2's own note\n");
  });

  it("restores a selection of only a symbolic link as the link itself (a zip would skip it)", async () => {
    const target = join(dst.home, "restored-link");
    const jobId = await admin.push(src.guid, dst.guid, [`${src.home}/links/latest-note`], { restorePath: target, existingFiles: "RENAME_ORIGINAL" });
    expect(await admin.waitPlatformJob(jobId)).toMatchObject({ done: true, status: "done", restoreType: "PUSH" });
    expect(readlinkSync(join(target, "latest-note"))).toBe("../docs/note.txt");
  });

  it("refuses a bad combination with CREATE_FAILED: a relative folder, a drive path for a Linux device, nothing selected, unknown file permissions", async () => {
    const note = [`${src.home}/docs/note.txt`];
    for (const [paths, target] of [
      [note, { restorePath: "relative/folder" }],
      // a drive path is not a folder of this Linux device (it would land below the agent's cwd)
      [note, { restorePath: "C:\\restore" }],
      [[], { restorePath: join(dst.home, "nothing") }],
      [note, { restorePath: join(dst.home, "perm"), filePermissions: "WEIRD" }],
      // a folder the device could not name as given: NUL, or ".." that would create a stray folder
      [note, { restorePath: `${dst.home}/nul\u0000x` }],
      [note, { restorePath: `${dst.home}/stray/../elsewhere` }],
    ] as const) {
      const e = await admin.push(src.guid, dst.guid, [...paths], target).then(
        () => undefined,
        (err: unknown) => err as RestoreStepError,
      );
      expect(e?.answer.status, JSON.stringify(target)).toBe(400);
      expect(e?.errorName).toBe("CREATE_FAILED");
    }
    expect(readdirSync(dst.home)).not.toContain("stray");
  });

  it("restores to the original location, overwriting", async () => {
    writeFileSync(join(src.home, "docs", "note.txt"), "changed after the backup\n");
    const daemon1 = await startAgent({ dataDir: c.agents[0]!.dataDir, clock: c.clock, logger: c.logger, tickMs: 0, localApi: false });
    try {
      const d1 = (await c.authority.ctx.store.getDeviceByGuid(src.guid))?.deviceId as number;
      await connected(d1, true);
      const jobId = await admin.push(src.guid, src.guid, [`${src.home}/docs/note.txt`], {
        restorePath: "",
        fileLocation: "ORIGINAL_LOCATION",
        existingFiles: "OVERWRITE_ORIGINAL",
      });
      expect(await admin.waitPlatformJob(jobId)).toMatchObject({ status: "done" });
      expect(readFileSync(join(src.home, "docs", "note.txt"), "utf8")).toBe("from device 1\n");
    } finally {
      await daemon1.close();
    }
  });

  it("restores deleted files with showDeleted, each as its last version, and leaves them out without", async () => {
    const a1 = c.agents[0] as NonNullable<(typeof c.agents)[0]>;
    writeFileSync(join(src.home, "docs", "gone.txt"), "deleted the day after\n");
    expect((await a1.backup()).errors).toBe(0);
    rmSync(join(src.home, "docs", "gone.txt"));
    expect((await a1.backup()).errors).toBe(0);
    const one = join(dst.home, "deleted-one");
    const file = await admin.push(src.guid, dst.guid, [`${src.home}/docs/gone.txt`], { restorePath: one }, { showDeleted: true });
    expect(await admin.waitPlatformJob(file)).toMatchObject({ done: true, status: "done" });
    expect(readFileSync(join(one, "gone.txt"), "utf8")).toBe("deleted the day after\n");
    const withDeleted = join(dst.home, "deleted-folder");
    const folder = await admin.push(src.guid, dst.guid, [`${src.home}/docs`], { restorePath: withDeleted }, { showDeleted: true });
    expect(await admin.waitPlatformJob(folder)).toMatchObject({ done: true, status: "done" });
    expect(readdirSync(join(withDeleted, "docs")).sort()).toEqual(["gone.txt", "note.txt", "report.bin"]);
    const without = join(dst.home, "live-folder");
    const live = await admin.push(src.guid, dst.guid, [`${src.home}/docs`], { restorePath: without });
    expect(await admin.waitPlatformJob(live)).toMatchObject({ done: true, status: "done" });
    expect(readdirSync(join(without, "docs")).sort()).toEqual(["note.txt", "report.bin"]);
  }, 60_000);

  it("keeps the original permissions, or gives this device's defaults with filePermissions CURRENT", async () => {
    const a1 = c.agents[0] as NonNullable<(typeof c.agents)[0]>;
    writeFileSync(join(src.home, "docs", "private.txt"), "only me\n");
    chmodSync(join(src.home, "docs", "private.txt"), 0o600);
    expect((await a1.backup()).errors).toBe(0);
    const mode = (p: string) => statSync(p).mode & 0o777;
    const umask = process.umask(0o022);
    process.umask(umask);
    for (const [filePermissions, want] of [
      ["ORIGINAL", 0o600],
      [null, 0o600],
      ["CURRENT", 0o666 & ~umask],
    ] as const) {
      const target = join(dst.home, `perm-${filePermissions ?? "null"}`);
      const job = await admin.push(src.guid, dst.guid, [`${src.home}/docs/private.txt`], { restorePath: target, filePermissions });
      expect(await admin.waitPlatformJob(job)).toMatchObject({ status: "done" });
      expect(mode(join(target, "private.txt")).toString(8), String(filePermissions)).toBe(want.toString(8));
    }
    rmSync(join(src.home, "docs", "private.txt"));
    expect((await a1.backup()).errors).toBe(0);
  }, 60_000);

  it("answers serverUrl null and CREATE_FAILED for an offline target", async () => {
    await daemon2?.close();
    daemon2 = null;
    await connected(dst.deviceId, false);
    const url = (await admin.platformCall("connected", "GET", `/api/connectedServerUrl?guid=${dst.guid}`)) as { serverUrl: string | null };
    expect(url).toEqual({ serverUrl: null });
    // py42 stops here (Py42DeviceNotConnectedError); a client that goes on gets CREATE_FAILED
    const s = await admin.openSession(src.guid);
    const e = await admin
      .platformCall("push", "POST", "/api/v9/restore/push", {
        sourceComputerGuid: src.guid,
        acceptingComputerGuid: dst.guid,
        webRestoreSessionId: s.sessionId,
        restorePath: join(dst.home, "never"),
        restoreGroups: [{ backupSetId: "1", files: [{ fileType: "FILE", path: `${src.home}/docs/note.txt`, selected: true }] }],
        fileLocation: null,
        existingFiles: "RENAME_ORIGINAL",
      })
      .then(
        () => undefined,
        (err: unknown) => err as RestoreStepError,
      );
    expect(e?.answer.status).toBe(400);
    expect(e?.answer.text).toContain("CREATE_FAILED");
  });

  it("shows the pushes in the restore history with the receiving device", async () => {
    const h = (await c.authority.py42().data("GET", "/api/RestoreHistory?pgNum=1&pgSize=50")) as { restoreEvents: Record<string, unknown>[] };
    const push = h.restoreEvents.find((e) => e.restoreType === "PUSH" && e.acceptingComputerGuid === dst.guid);
    expect(push).toMatchObject({
      status: "COMPLETED",
      sourceComputerGuid: src.guid,
      acceptingComputerOsName: "linux",
      requestingUsername: c.authority.adminUsername,
    });
    // the docs folder (two files), the lone link, the deleted file, the folder with it (three) and
    // without it (two): each as many files as it restored
    const pushes = h.restoreEvents.filter((e) => e.restoreType === "PUSH" && e.acceptingComputerGuid === dst.guid);
    expect(pushes.map((e) => e.numFiles).sort()).toEqual([1, 1, 1, 1, 1, 2, 2, 3]);
  });
});
