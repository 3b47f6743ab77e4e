/**
 * The whole flow of docs/architecture.md through the real authority: a storage node enrolled
 * with an enroll key, an agent registered with the org's registration key, a backup of a small
 * tree and a restore byte for byte through the agent's library.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import Database from "better-sqlite3";
import { join } from "node:path";
import { agentStatus, changeSelection, registerAgent, startAgent } from "@cairn/agent";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CAIRN_BIN } from "./helpers/cairn-process.js";
import { type Cluster, startCluster } from "./helpers/cluster.js";

let c: Cluster;
beforeAll(async () => {
  c = await startCluster({ agents: 1 });
}, 60_000);
afterAll(async () => {
  await c?.dispose();
});

describe("cluster: authority, storage node, agent", () => {
  it("backs up a small tree and restores it byte for byte", async () => {
    const a = c.agents[0]!;
    mkdirSync(join(a.home, "docs", "deep"), { recursive: true });
    const files: Record<string, Buffer> = {
      "a.txt": Buffer.from("hello cairn\n"),
      "docs/report.bin": randomBytes(300_000),
      "docs/deep/empty.txt": Buffer.alloc(0),
    };
    for (const [p, b] of Object.entries(files)) writeFileSync(join(a.home, p), b);
    a.select();
    const r = await a.backup();
    expect(r.files).toBeGreaterThanOrEqual(3);
    expect(r.errors).toBe(0);
    const target = join(c.dir, "restored");
    const res = await a.restore({ target, paths: [`${a.home}/`] });
    expect(res.errors).toBe(0);
    for (const [p, b] of Object.entries(files)) expect(readFileSync(join(target, "home1", p)).equals(b), p).toBe(true);
  });

  it("shows the backup in the platform API with the node's figures", async () => {
    const a = c.agents[0]!;
    await c.nodes[0]!.handle.report();
    const py = c.authority.py42();
    const d = (await py.data("GET", `/api/Computer/${a.registration.guid}?idType=guid&incBackupUsage=True`)) as Record<string, any>;
    expect(d).toMatchObject({ guid: a.registration.guid, status: "Active", alertState: 0, orgUid: c.authority.orgUid });
    expect(d.backupUsage).toHaveLength(1);
    expect(d.backupUsage[0]).toMatchObject({
      targetComputerGuid: c.destination.destinationGuid,
      targetComputerName: "Primary",
      serverGuid: c.nodes[0]!.serverGuid,
      isProvider: false,
      todoFiles: 0,
    });
    expect(d.backupUsage[0].archiveBytes).toBeGreaterThan(300_000);
    expect(d.backupUsage[0].selectedFiles).toBeGreaterThanOrEqual(3);
    expect(Date.parse(d.backupUsage[0].lastCompletedBackup)).toBeGreaterThan(Date.now() - 120_000);
    const org = (await py.data("GET", "/api/Org/my?incCounts=True")) as Record<string, number>;
    expect(org).toMatchObject({ computerCount: 1, backupComputerCount: 1 });
    expect(org.archiveBytes).toBe(d.backupUsage[0].archiveBytes);
    // the organizations CSV's device columns come from the same data
    const csv = (await py.call("GET", "/api/v1/orgs/export")).text.trim().split("\r\n");
    const header = (csv[0] as string).split(",");
    const row = (csv[1] as string).split(",");
    const col = (name: string) => row[header.indexOf(name)];
    expect([col("computerCount"), col("backupDeviceCount"), col("archiveBytes"), col("targetDestinationGuid")]).toEqual([
      "1",
      "1",
      String(d.backupUsage[0].archiveBytes),
      c.destination.destinationGuid,
    ]);
  });

  it("pushes settings to a running agent, and wipes its credential when deauthorized (T27)", async () => {
    const a = c.agents[0]!;
    const h = await startAgent({ dataDir: a.dataDir, tickMs: 0, localApi: false, watch: false, logger: c.logger });
    try {
      await expect.poll(() => c.authority.ctx.agents.isConnectedGuid(a.registration.guid), { timeout: 10_000 }).toBe(true);
      const py = c.authority.py42();
      const top = (await py.data("GET", "/api/Org/my")) as { orgId: number };
      await py.data("PUT", `/api/v1/orgs/${top.orgId}/settings`, { groups: { device: { values: { frequencyMs: 3_600_000 } } } });
      await expect.poll(() => h.settings.frequencyMs, { timeout: 10_000 }).toBe(3_600_000);
      const d = (await py.data("GET", `/api/Computer/${a.registration.guid}?idType=guid`)) as { computerId: number };
      expect((await py.call("PUT", `/api/ComputerDeauthorization/${d.computerId}`)).status).toBe(204);
      await expect.poll(() => existsSync(join(a.dataDir, "credentials.json")), { timeout: 10_000 }).toBe(false);
      await expect.poll(() => c.authority.ctx.agents.isConnectedGuid(a.registration.guid)).toBe(false);
    } finally {
      await h.close();
    }
  });

  it("cairn agent restore of a path the version does not hold exits 10 and says so (not 'restored 0 files')", async () => {
    const a = await c.addAgent({ username: "seeker@example.com" });
    writeFileSync(join(a.home, "kept.txt"), "kept\n");
    a.select();
    await a.backup();
    const missing = join(a.home, "never-backed-up.txt");
    const r = await promisify(execFile)(
      process.execPath,
      [CAIRN_BIN, "--json", "agent", "restore", "--data", a.dataDir, "--to", join(c.dir, "nothing"), missing],
      {
        encoding: "utf8",
        timeout: 30_000,
      },
    ).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).toBe(10);
    expect(JSON.parse(r.stderr.trim().split("\n").at(-1) as string)).toMatchObject({
      message_type: "exit_error",
      error: "NOT_FOUND",
      message: expect.stringContaining(missing),
    });
    // a restore target that is a file, not a folder: a usage error naming it (exit 2), nothing written
    const file = join(c.dir, "a-file.txt");
    writeFileSync(file, "not a folder\n");
    const onFile = await promisify(execFile)(process.execPath, [CAIRN_BIN, "--json", "agent", "restore", "--data", a.dataDir, "--to", file], {
      encoding: "utf8",
      timeout: 30_000,
    }).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(onFile.code, onFile.stderr).toBe(2);
    expect(JSON.parse(onFile.stderr.trim().split("\n").at(-1) as string)).toMatchObject({ error: "USAGE", message: expect.stringContaining(file) });
    expect(readFileSync(file, "utf8")).toBe("not a folder\n");
  });

  it("cairn agent restore of a file deleted since its last backup names the version that still holds it, and that command restores it", async () => {
    const a = await c.addAgent({ username: "deleter@example.com" });
    writeFileSync(join(a.home, "thesis.txt"), "chapter one\n");
    writeFileSync(join(a.home, "kept.txt"), "kept\n");
    writeFileSync(join(a.home, "old notes.txt"), "notes\n");
    a.select();
    const first = await a.backup();
    rmSync(join(a.home, "thesis.txt"));
    rmSync(join(a.home, "old notes.txt"));
    await a.backup();
    const lost = join(a.home, "thesis.txt");
    const cairn = (args: string[]) =>
      promisify(execFile)(process.execPath, [CAIRN_BIN, "agent", "restore", "--data", a.dataDir, ...args], { encoding: "utf8", timeout: 30_000 }).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    const r = await cairn(["--to", join(c.dir, "thesis-out"), lost]);
    expect(r.code).toBe(10);
    const hint = `cairn agent restore --at ${first.versionTime} ${lost}`;
    expect(r.stderr).toContain(hint);
    const again = await cairn(["--to", join(c.dir, "thesis-out"), "--at", first.versionTime, lost]);
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(join(c.dir, "thesis-out", "thesis.txt"), "utf8")).toBe("chapter one\n");
    // a list with lost files in it: the rest is restored, each lost one is named with the command
    // that brings it back (quoted for the shell), and the exit is 10, not a silent 0
    const mixed = await cairn(["--to", join(c.dir, "mixed-out"), join(a.home, "kept.txt"), lost, join(a.home, "old notes.txt")]);
    expect(mixed.code, mixed.stderr).toBe(10);
    expect(readFileSync(join(c.dir, "mixed-out", "kept.txt"), "utf8")).toBe("kept\n");
    expect(mixed.stderr).toContain(hint);
    expect(mixed.stderr).toContain(`cairn agent restore --at ${first.versionTime} '${join(a.home, "old notes.txt")}'`);
    expect(mixed.stdout).toContain(`warning: NOT_FOUND: ${lost} is not in the version`);
  });

  it("shows what the device's user selected on the device in its settings, and keeps it the device's own through a py42 round trip", async () => {
    const a = await c.addAgent({ username: "selects@example.com" });
    mkdirSync(join(a.home, "Documents"), { recursive: true });
    writeFileSync(join(a.home, "Documents", "cv.txt"), "curriculum\n");
    changeSelection({ dataDir: a.dataDir, op: "add", items: [join(a.home, "Documents")] });
    changeSelection({ dataDir: a.dataDir, op: "exclude", items: ["\\.tmp$"] });
    await a.backup(); // connects, syncs, and reports the selection
    const py = c.authority.py42();
    const url = `/api/Computer/${a.registration.guid}?idType=guid&incSettings=True`;
    type Settings = { settings: { serviceBackupConfig: { backupConfig: { backupSets: Array<Record<string, any>> } } } };
    const paths = (d: Settings) => {
      const set = d.settings.serviceBackupConfig.backupConfig.backupSets[0] as Record<string, any>;
      const ps = set.backupPaths.pathset;
      const list = (Array.isArray(ps) ? ps[0]?.path : ps.paths?.path) ?? [];
      return (Array.isArray(list) ? list : [list]).map((x: Record<string, string>) => x["@include"] ?? `-${x["@exclude"]}`);
    };
    const before = (await py.data("GET", url)) as Settings;
    expect(paths(before)).toEqual([`${join(a.home, "Documents")}/`]);
    expect(JSON.stringify(before.settings.serviceBackupConfig.backupConfig.backupSets[0]?.backupPaths.excludeUser)).toContain("\\\\.tmp$");
    // py42 PUTs the whole object back: the device's paths do not become the organization's
    const put = await py.call("PUT", `/api/Computer/${(before as unknown as { computerId: number }).computerId}`, before);
    expect(put.status, JSON.stringify(put.json)).toBe(200);
    const device = await c.authority.ctx.store.getDeviceByGuid(a.registration.guid);
    expect(JSON.stringify(device?.overrides ?? null)).not.toContain("Documents");
    // the user deselects it on the device: the settings follow
    changeSelection({ dataDir: a.dataDir, op: "remove", items: [join(a.home, "Documents")] });
    await a.backup().catch(() => undefined);
    expect(paths((await py.data("GET", url)) as Settings)).toEqual([]);
  });

  it("T20: a storage node that serves an older head is refused by the device, and the authority shows the warning and audits it", async () => {
    const a = await c.addAgent({ username: "rolledback@example.com" });
    writeFileSync(join(a.home, "plan.txt"), "plan v1\n");
    a.select();
    const v1 = await a.backup();
    writeFileSync(join(a.home, "plan.txt"), "plan v2\n");
    await a.backup();
    // the node's operator (or an attacker on it) drops the newest version: the node's head is v1 again
    const archiveGuid = v1.destinations[0]!.archiveGuid;
    const archives = join(c.nodes[0]!.storePointDir, "archives");
    const ns = readdirSync(archives).find((n) => existsSync(join(archives, n, archiveGuid, "index.db"))) as string;
    const idx = new Database(join(archives, ns, archiveGuid, "index.db"));
    const head = (idx.prepare("SELECT max(seq) AS seq FROM versions").get() as { seq: number }).seq;
    idx.prepare("DELETE FROM file_blocks WHERE seq = ?").run(head);
    idx.prepare("DELETE FROM file_versions WHERE seq = ?").run(head);
    idx.prepare("DELETE FROM versions WHERE seq = ?").run(head);
    idx.close();
    writeFileSync(join(a.home, "plan.txt"), "plan v3\n");
    await expect(a.backup()).rejects.toMatchObject({ code: "ROLLBACK_DETECTED" });
    // the device shows it too, per destination
    const st = agentStatus({ dataDir: a.dataDir });
    expect(st.destinations.find((d) => d.archiveGuid === archiveGuid)?.lastError).toMatchObject({ code: "ROLLBACK_DETECTED" });
    const py = c.authority.py42();
    const d = (await py.data("GET", `/api/Computer/${a.registration.guid}?idType=guid&incBackupUsage=True`)) as Record<string, any>;
    expect(d.backupUsage[0].lastError).toMatchObject({ code: "ROLLBACK_DETECTED" });
    const audit = (await py.data("GET", "/api/v1/audit-log?action=archive.rollback-detected&pgNum=1&pgSize=100")) as { auditEntries: unknown[] };
    expect(audit.auditEntries).toHaveLength(1);
    // a restore still gives the person what the node holds, and says it may be older than the last backup
    const out = join(c.dir, "rolledback-out");
    const r = await promisify(execFile)(
      process.execPath,
      [CAIRN_BIN, "--json", "agent", "restore", "--data", a.dataDir, "--to", out, join(a.home, "plan.txt")],
      {
        encoding: "utf8",
        timeout: 30_000,
      },
    );
    const summary = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, any>)
      .find((m) => m.message_type === "summary") as { files: number; warnings: Array<{ code: string; message: string }> };
    expect(summary.files).toBe(1);
    expect(summary.warnings).toEqual([expect.objectContaining({ code: "ROLLBACK_DETECTED" })]);
    expect(readFileSync(join(out, "plan.txt"), "utf8")).toBe("plan v1\n");
    const text = await promisify(execFile)(
      process.execPath,
      [CAIRN_BIN, "agent", "restore", "--data", a.dataDir, "--to", `${out}-2`, join(a.home, "plan.txt")],
      {
        encoding: "utf8",
        timeout: 30_000,
      },
    );
    expect(text.stdout).toContain("warning: ROLLBACK_DETECTED");
    // an archive guid the device does not have is named as such, with the ones it has
    const unknown = await promisify(execFile)(
      process.execPath,
      [CAIRN_BIN, "--json", "agent", "restore", "--data", a.dataDir, "--archive", "123456789012345678", "--to", `${out}-3`],
      { encoding: "utf8", timeout: 30_000 },
    ).catch((e: { code: number; stderr: string }) => e);
    expect((unknown as { code: number }).code).toBe(10);
    expect((unknown as { stderr: string }).stderr).toContain(`this device has no archive 123456789012345678 (its archives: ${archiveGuid}`);
  });

  it("block stops restores at the node at once, and unblock lets the same (pre-block) storage token restore again at once", async () => {
    const a = await c.addAgent({ username: "blocky@example.com" });
    writeFileSync(join(a.home, "notes.txt"), "blocked and back\n");
    a.select();
    await a.backup();
    const py = c.authority.py42();
    const d = (await py.data("GET", `/api/Computer/${a.registration.guid}?idType=guid`)) as { computerId: number };
    const target = join(c.dir, "restore-blocky");
    // the restore's file count, or the code it was refused with
    const outcome = () =>
      a.restore({ target, paths: [join(a.home, "notes.txt")], existing: "overwrite" }).then(
        (r) => r.files,
        (e: { code?: string }) => e.code,
      );
    expect((await py.call("PUT", `/api/ComputerBlock/${d.computerId}`)).status).toBe(204);
    await expect.poll(outcome, { timeout: 10_000 }).toBe("TOKEN_REVOKED");
    expect((await py.call("DELETE", `/api/ComputerBlock/${d.computerId}`)).status).toBe(204);
    // no token renewal in between: the node dropped the lifted revocation
    await expect.poll(outcome, { timeout: 5_000 }).toBe(1);
    expect(readFileSync(join(target, "notes.txt"), "utf8")).toBe("blocked and back\n");
    // the same for a blocked and unblocked user
    const u = ((await py.data("GET", "/api/User?username=blocky@example.com")) as { users: { userId: number }[] }).users[0]!;
    expect((await py.call("PUT", `/api/UserBlock/${u.userId}`)).status).toBe(204);
    await expect.poll(outcome, { timeout: 10_000 }).toBe("TOKEN_REVOKED");
    expect((await py.call("DELETE", `/api/UserBlock/${u.userId}`)).status).toBe(204);
    await expect.poll(outcome, { timeout: 5_000 }).toBe(1);
    // and a node that reconnects takes its restore revocations from the announce: none now
    const node = c.nodes[0]!;
    await node.restart();
    await expect.poll(outcome, { timeout: 20_000 }).toBe(1);
  });

  it("cairn agent deauthorize signs the device out at the authority, then wipes the credential; unreachable, it still wipes and says so", async () => {
    const a = await c.addAgent({ username: "leaver@example.com" });
    writeFileSync(join(a.home, "thesis.txt"), "chapter one\n");
    a.select();
    expect((await a.backup()).uploadedBytes).toBeGreaterThan(0);
    // (asynchronously: the authority runs in this process)
    const deauthorize = (dataDir: string) =>
      promisify(execFile)(process.execPath, [CAIRN_BIN, "--json", "agent", "deauthorize", "--data", dataDir], { encoding: "utf8", timeout: 30_000 });
    const r = await deauthorize(a.dataDir);
    expect(JSON.parse(r.stdout.trim())).toEqual({ deauthorized: true, authorityNotified: true });
    expect(existsSync(join(a.dataDir, "credentials.json"))).toBe(false);
    const py = c.authority.py42();
    expect(await py.data("GET", `/api/Computer/${a.registration.guid}?idType=guid`)).toMatchObject({ status: "Active, Deauthorized" });
    // signing in again on the same machine resumes the same device and archive: nothing re-uploaded (API.md §6).
    // (A storage token counts its issue time in whole seconds: one issued in the second of the
    // deauthorization is refused with the ones before it, so a person signs in again a moment later.)
    await new Promise((r) => setTimeout(r, 1100));
    const again = await registerAgent({
      dataDir: a.dataDir,
      authorityUrl: c.authority.url,
      authorityFingerprint: c.authority.fingerprint,
      registrationKey: c.authority.registrationKey,
      username: a.username,
      password: a.password,
      logger: c.logger,
      clock: c.clock,
    });
    expect(again.guid).toBe(a.registration.guid);
    const resumed = await a.backup();
    expect([resumed.errors, resumed.uploadedBytes, resumed.destinations.length]).toEqual([0, 0, 1]);

    // an authority that cannot be reached: signed out locally all the same, and told so
    const b = await c.addAgent({ username: "offline-leaver@example.com" });
    const credPath = join(b.dataDir, "credentials.json");
    const cred = JSON.parse(readFileSync(credPath, "utf8")) as { authorityUrl: string };
    writeFileSync(credPath, JSON.stringify({ ...cred, authorityUrl: "https://127.0.0.1:1" }), { mode: 0o600 });
    const off = await deauthorize(b.dataDir);
    expect(JSON.parse(off.stdout.trim())).toMatchObject({ deauthorized: true, authorityNotified: false, authorityError: { code: expect.any(String) } });
    expect(existsSync(credPath)).toBe(false);
    expect(await py.data("GET", `/api/Computer/${b.registration.guid}?idType=guid`)).toMatchObject({ status: "Active" });
  });

  it("cairn agent destinations lists what the authority offers now, not only what the last sync stored", async () => {
    const a = await c.addAgent({ username: "lister@example.com" });
    const list = async () =>
      JSON.parse(
        (
          await promisify(execFile)(process.execPath, [CAIRN_BIN, "--json", "agent", "destinations", "--data", a.dataDir], {
            encoding: "utf8",
            timeout: 30_000,
          })
        ).stdout,
      ) as { destinationGuid: string; name: string; autoStart: boolean; optedIn: boolean }[];
    expect((await list()).map((d) => d.name)).toEqual([c.destination.destinationName]);
    await c.addNode({ destinationName: "Optional" });
    const dests = await c.authority.ctx.store.listDestinations();
    const id = (name: string) => dests.find((d) => d.name === name)?.destinationId;
    await c.authority.py42().data("PUT", "/api/v1/settings/destinations", {
      destinations: [
        { destinationId: id(c.destination.destinationName), offered: true, autoStart: true },
        { destinationId: id("Optional"), offered: true, autoStart: false },
      ],
    });
    // no daemon runs and no backup has synced since the offer
    expect(await list()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: "Optional", autoStart: false, optedIn: false }),
        expect.objectContaining({ name: c.destination.destinationName }),
      ]),
    );
  });
});
