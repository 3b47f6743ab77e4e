/**
 * Issue 4, "Settings": a frequency, exclusion (a backup set's and the file exclusions for every set)
 * and bandwidth change made through the authority's
 * API reaches a running agent and takes effect without a restart; compression over LAN can be
 * switched off and on; the bandwidth limit holds
 * within 25% over a 30-second upload; nothing is sent outside the run window (injected clock).
 * Real authority, storage node and agent daemon on 127.0.0.1 (test/helpers/cluster.ts).
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { type AgentHandle, startAgent } from "@cairn/agent";
import { DAY_MS, HOUR_MS, ManualClock, MINUTE_MS } from "@cairn/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCairn } from "./helpers/cairn-process.js";
import { type Cluster, startCluster } from "./helpers/cluster.js";

describe("settings from the authority reach a running agent", () => {
  let c: Cluster;
  let h: AgentHandle;
  let topOrgId: number;
  const clock = new ManualClock(Date.now());
  /** Whether the user is at the computer, as the daemon's presence seam reports it. */
  let userPresence: "present" | "away" | "unknown" = "present";

  const setDevice = async (values: Record<string, unknown>) => {
    const py = c.authority.py42();
    await py.data("PUT", `/api/v1/orgs/${topOrgId}/settings`, { groups: { device: { values } } });
  };
  /** The node's received-bytes counter (its self-signed certificate: only a counter over loopback). */
  const nodeBytes = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = request(`https://127.0.0.1:${c.nodes[0]?.handle.port}/metrics`, { rejectUnauthorized: false }, (res) => {
        let text = "";
        res.on("data", (d: Buffer) => {
          text += d.toString("utf8");
        });
        res.on("end", () => resolve(Number(/^storenode_bytes_received_total (\d+)/m.exec(text)?.[1] ?? 0)));
      });
      req.on("error", reject);
      req.end();
    });

  beforeAll(async () => {
    c = await startCluster({ agents: 1, clock });
    const a = c.agents[0]!;
    a.select();
    h = await startAgent({ dataDir: a.dataDir, clock, tickMs: 0, localApi: false, watch: true, logger: c.logger, presence: () => userPresence });
    for (let i = 0; i < 150 && !c.authority.ctx.agents.isConnectedGuid(a.registration.guid); i++) await new Promise((r) => setTimeout(r, 100));
    topOrgId = ((await c.authority.py42().data("GET", "/api/Org/my")) as { orgId: number }).orgId;
  }, 120_000);
  afterAll(async () => {
    await h?.close();
    await c?.dispose();
  });

  it("applies a new frequency and exclusion without a restart", async () => {
    const a = c.agents[0]!;
    writeFileSync(join(a.home, "keep.txt"), "kept\n");
    writeFileSync(join(a.home, "scratch.tmp"), "left out\n");
    mkdirSync(join(a.home, "cache"));
    writeFileSync(join(a.home, "cache", "blob.bin"), "left out by the file exclusions for every set\n");
    await setDevice({
      frequencyMs: 2 * HOUR_MS,
      excludePatterns: ["/cache/"],
      backupSets: [{ id: "1", name: "Backup Set 1", include: [`${a.home}/`], exclude: [], excludePatterns: ["\\.tmp$"], destinations: null, locked: false }],
    });
    await expect.poll(() => h.settings.frequencyMs, { timeout: 15_000 }).toBe(2 * HOUR_MS);

    const first = await h.backupNow();
    expect(first.errors).toBe(0);
    const out = join(c.dir, "restore-exclusion");
    mkdirSync(out);
    const r = await a.restore({ target: out, paths: [a.home] });
    expect(r.errors).toBe(0);
    const restored = join(out, "home1");
    expect(existsSync(join(restored, "keep.txt"))).toBe(true);
    expect(existsSync(join(restored, "scratch.tmp"))).toBe(false);
    expect(existsSync(join(restored, "cache", "blob.bin"))).toBe(false);

    // The new frequency governs the schedule: a watched change waits two hours (the default
    // would back it up after 15 minutes).
    writeFileSync(join(a.home, "later.txt"), "changed after the backup\n");
    await expect.poll(() => h.pendingChanges, { timeout: 15_000 }).toBeGreaterThan(0);
    clock.advance(30 * MINUTE_MS);
    expect(await h.tick()).toBeNull();
    clock.advance(2 * HOUR_MS);
    const scheduled = await h.tick();
    expect(scheduled?.changedFiles).toBeGreaterThanOrEqual(1);
  });

  it("sends nothing outside the run window, and sends once it opens (injected clock)", async () => {
    const a = c.agents[0]!;
    // a window from 01:00 to 02:00 every day; the clock says 12:00 the next day (device local time)
    const tomorrow = new Date(clock.now() + DAY_MS);
    clock.set(new Date(tomorrow.getFullYear(), tomorrow.getMonth(), tomorrow.getDate(), 12, 0).getTime());
    await setDevice({ runWindow: { startMinute: 60, endMinute: 120, days: "SMTWTFS" } });
    await expect.poll(() => h.settings.runWindow?.startMinute, { timeout: 15_000 }).toBe(60);
    writeFileSync(join(a.home, "window.bin"), randomBytes(2 * 1024 * 1024));
    const before = await nodeBytes();
    // outside the window the daemon neither schedules nor runs a backup, and nothing reaches the node
    expect(await h.tick()).toBeNull();
    await expect(h.backupNow()).rejects.toMatchObject({ code: "UNAVAILABLE" });
    await new Promise((r) => setTimeout(r, 500));
    expect(await nodeBytes()).toBe(before);
    // 01:30 the day after: inside the window
    const next = new Date(clock.now() + DAY_MS);
    clock.set(new Date(next.getFullYear(), next.getMonth(), next.getDate(), 1, 30).getTime());
    const done = await h.backupNow();
    expect(done.errors).toBe(0);
    expect((await nodeBytes()) - before).toBeGreaterThan(2 * 1024 * 1024);
    await setDevice({ runWindow: null });
    await expect.poll(() => h.settings.runWindow, { timeout: 15_000 }).toBeNull();
  });

  it("sends no block while the connection runs over an excluded network interface, and resumes once it is allowed again", async () => {
    const a = c.agents[0]!;
    // the node is on 127.0.0.1: the connection runs over this machine's loopback interface
    const lo = Object.entries(networkInterfaces()).find(([, v]) => v?.some((x) => x.address === "127.0.0.1"))?.[0];
    expect(lo).toBeDefined();
    await setDevice({ excludedInterfaces: [lo] });
    await expect.poll(() => h.settings.network.excludedInterfaces, { timeout: 15_000 }).toEqual([lo]);
    writeFileSync(join(a.home, "excluded-network.bin"), randomBytes(2 * 1024 * 1024));
    const before = await nodeBytes();
    let settled = false;
    const run = h.backupNow().finally(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 3000));
    expect(settled).toBe(false);
    // the session's control messages pass; no block does
    expect((await nodeBytes()) - before).toBeLessThan(256 * 1024);
    await setDevice({ excludedInterfaces: [] });
    const done = await run;
    expect(done.errors).toBe(0);
    expect((await nodeBytes()) - before).toBeGreaterThan(2 * 1024 * 1024);
    expect(h.settings.network.excludedInterfaces).toEqual([]);
  }, 60_000);

  it("shows no status or summary on a device whose organization hides the agent (client visibility); --json output stays", async () => {
    const a = c.agents[0]!;
    const py = c.authority.py42();
    await py.data("PUT", `/api/v1/orgs/${topOrgId}/settings`, { groups: { security: { values: { clientVisibility: "hidden" } } } });
    await expect
      .poll(async () => (await runCairn(["--json", "agent", "status", "--data", a.dataDir])).stdout, { timeout: 15_000 })
      .toContain('"visibility":"hidden"');
    writeFileSync(join(a.home, "hidden.txt"), "backed up quietly\n");
    const backup = await runCairn(["agent", "backup", "--data", a.dataDir]);
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stdout).toBe("");
    expect((await runCairn(["agent", "status", "--data", a.dataDir])).stdout).toBe("");
    const json = await runCairn(["--json", "agent", "backup", "--data", a.dataDir]);
    expect(json.stdout).toContain('"message_type":"summary"');
    await py.data("PUT", `/api/v1/orgs/${topOrgId}/settings`, { groups: { security: { values: { clientVisibility: "visible" } } } });
    await expect
      .poll(async () => (await runCairn(["--json", "agent", "status", "--data", a.dataDir])).stdout, { timeout: 15_000 })
      .toContain('"visibility":"visible"');
    const shown = await runCairn(["agent", "backup", "--data", a.dataDir]);
    expect(shown.stdout).toMatch(/^version /);
  }, 60_000);

  it("runs scheduled backups at the present CPU share while the user is at the computer, at the away share once not", async () => {
    const a = c.agents[0]!;
    await setDevice({ cpuPresentPercent: 30, cpuAwayPercent: 90 });
    await expect.poll(() => [h.settings.cpuPercent, h.settings.cpuAwayPercent], { timeout: 15_000 }).toEqual([30, 90]);
    const share = async () => (await h.metrics.registry.getSingleMetric("agent_backup_cpu_percent")?.get())?.values[0]?.value;
    writeFileSync(join(a.home, "present.txt"), "while the user types\n");
    expect((await h.backupNow()).errors).toBe(0);
    expect(await share()).toBe(30);
    userPresence = "away";
    writeFileSync(join(a.home, "away.txt"), "while nobody is there\n");
    expect((await h.backupNow()).errors).toBe(0);
    expect(await share()).toBe(90);
    // not knowing counts as present: never more CPU than the organization allows with a user there
    userPresence = "unknown";
    writeFileSync(join(a.home, "unknown.txt"), "nobody can tell\n");
    expect((await h.backupNow()).errors).toBe(0);
    expect(await share()).toBe(30);
    userPresence = "present";
    await setDevice({ cpuPresentPercent: 20, cpuAwayPercent: 80 });
  }, 60_000);

  it("sends chunks as they are when compression over LAN is off (the Network tab), compressed again once it is back on", async () => {
    const a = c.agents[0]!;
    // hex text: compresses to about half, and no two chunks are alike (nothing deduplicated)
    const text = () => randomBytes(2 * 1024 * 1024).toString("hex");
    writeFileSync(join(a.home, "compressed.txt"), text());
    let before = await nodeBytes();
    expect((await h.backupNow()).errors).toBe(0);
    const compressed = (await nodeBytes()) - before;
    expect(compressed).toBeLessThan(3 * 1024 * 1024);

    // the node is on 127.0.0.1: the LAN settings apply. The bandwidth value only marks when this
    // configuration has reached the daemon (a limit far above what the test sends).
    await setDevice({ lanCompression: "off", lanBytesPerSec: 900_000_000 });
    await expect.poll(() => h.settings.bytesPerSec, { timeout: 15_000 }).toBe(900_000_000);
    writeFileSync(join(a.home, "plain.txt"), text());
    before = await nodeBytes();
    expect((await h.backupNow()).errors).toBe(0);
    expect((await nodeBytes()) - before).toBeGreaterThan(4 * 1024 * 1024);

    await setDevice({ lanCompression: "auto", lanBytesPerSec: 0 });
    await expect.poll(() => h.settings.bytesPerSec, { timeout: 15_000 }).toBe(0);
    writeFileSync(join(a.home, "compressed-again.txt"), text());
    before = await nodeBytes();
    expect((await h.backupNow()).errors).toBe(0);
    expect((await nodeBytes()) - before).toBeLessThan(3 * 1024 * 1024);
  }, 60_000);

  it("holds a bandwidth limit set through the API within 25% over a 30-second upload", async () => {
    const a = c.agents[0]!;
    const rate = 1_000_000;
    await setDevice({ wanBytesPerSec: rate, lanBytesPerSec: rate });
    await expect.poll(() => h.settings.bytesPerSec, { timeout: 15_000 }).toBe(rate);
    const dir = join(a.home, "big");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "random.bin"), randomBytes(30 * rate));
    const before = await nodeBytes();
    const t0 = performance.now();
    const r = await h.backupNow();
    const seconds = (performance.now() - t0) / 1000;
    const sent = (await nodeBytes()) - before;
    expect(r.errors).toBe(0);
    expect(sent).toBeGreaterThan(30 * rate);
    const achieved = sent / seconds;
    expect(achieved).toBeGreaterThan(rate * 0.75);
    expect(achieved).toBeLessThan(rate * 1.25);
    await setDevice({ wanBytesPerSec: 0, lanBytesPerSec: 0 });
    rmSync(dir, { recursive: true, force: true });
  }, 90_000);
});
