/**
 * The authority away (issue 9, DECISIONS.md "device tokens"): SLOW, over a minute of real outage.
 *
 * The authority is closed (its listener gone) for more than 60 s of wall time while the agent
 * daemon keeps backing up and restoring round after round with the storage tokens it holds; a
 * new registration fails with a clear error. The clock shared by all three daemons (real time
 * plus an offset) jumps 6 days during the outage, so the tokens are a day from expiry when the
 * authority returns; the agent reconnects, renews them, reports, and the node's figures arrive;
 * then the clock passes the old tokens' expiry and backups and restores go on with the new ones.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type AgentHandle, agentStatus, registerAgent, runRestore, startAgent } from "@cairn/agent";
import { type RunningAuthority, startAuthority } from "@cairn/authority";
import { type Clock, DAY_MS } from "@cairn/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "./helpers/cairn-process.js";
import { type Cluster, startCluster } from "./helpers/cluster.js";

const OUTAGE_MS = 65_000;
let skew = 0;
const clock: Clock = { now: () => Date.now() + skew };

describe("the authority away (slow: more than a minute of outage)", () => {
  let c: Cluster;
  let daemon: AgentHandle;
  let back: RunningAuthority | null = null;

  beforeAll(async () => {
    c = await startCluster({ agents: 1, clock });
    c.agents[0]!.select();
    writeFileSync(join(c.agents[0]!.home, "round-0.txt"), "before the outage\n");
    daemon = await startAgent({ dataDir: c.agents[0]!.dataDir, clock, logger: c.logger, tickMs: 0, watch: false, reconnectMaxDelayMs: 2000 });
    await eventually(() => daemon.authorityConnected, 20_000, "the agent's link");
  });
  afterAll(async () => {
    await daemon?.close();
    await back?.close();
    await c?.dispose();
  });

  const expiryOf = () => Date.parse(agentStatus({ dataDir: c.agents[0]!.dataDir }).destinations[0]?.tokenExpiresAt ?? "");
  const restoreAndCompare = async (round: number, content: string) => {
    const target = join(c.dir, `restore-${round}`);
    mkdirSync(target, { recursive: true });
    const r = await runRestore({ dataDir: c.agents[0]!.dataDir, clock, logger: c.logger, target, paths: [join(c.agents[0]!.home, `round-${round}.txt`)] });
    expect(r.errors, JSON.stringify(r.errorList)).toBe(0);
    expect(readFileSync(join(target, `round-${round}.txt`), "utf8")).toBe(content);
  };

  it("keeps backing up and restoring through the outage, refuses registrations, and catches up (token renewal) when it returns", {
    timeout: 240_000,
  }, async () => {
    const first = await daemon.backupNow();
    expect(first.errors).toBe(0);
    const deviceGuid = c.agents[0]!.registration.guid;
    const tokenBefore = expiryOf();
    expect(tokenBefore - clock.now()).toBeGreaterThan(6.9 * DAY_MS);

    // the outage: the authority's process is gone
    const port = c.authority.port;
    await c.authority.close();
    const down = Date.now();
    await eventually(() => !daemon.authorityConnected, 10_000, "the agent to notice");
    await expect(
      registerAgent({
        dataDir: join(c.dir, "newcomer"),
        authorityUrl: c.authority.url,
        authorityFingerprint: c.authority.fingerprint,
        registrationKey: c.authority.registrationKey,
        username: "newcomer@example.com",
        password: "newcomer password 1",
        clock,
        logger: c.logger,
      }),
    ).rejects.toMatchObject({ code: "UNAVAILABLE", message: expect.stringContaining("cannot register: the authority") });
    skew += 6 * DAY_MS;

    let round = 0;
    let lastVersionTime = 0;
    while (Date.now() - down < OUTAGE_MS) {
      round++;
      const content = `written during the outage, round ${round}\n`;
      writeFileSync(join(c.agents[0]!.home, `round-${round}.txt`), content);
      const r = await daemon.backupNow();
      expect(r.errors).toBe(0);
      expect(r.changedFiles).toBeGreaterThan(0);
      lastVersionTime = Date.parse(r.versionTime);
      await restoreAndCompare(round, content);
      expect(daemon.authorityConnected).toBe(false);
      await new Promise((res) => setTimeout(res, 4000));
    }
    expect(Date.now() - down).toBeGreaterThan(60_000);
    expect(round).toBeGreaterThanOrEqual(5);
    expect(expiryOf()).toBe(tokenBefore);

    // the authority returns on the same address: the agent relinks, renews its tokens and reports
    back = await startAuthority({ dataDir: c.authority.dataDir, host: "127.0.0.1", port, clock, logger: c.logger });
    const a = back;
    await eventually(() => daemon.authorityConnected, 20_000, "the agent's link to the returned authority");
    await eventually(() => expiryOf() > tokenBefore + 5 * DAY_MS, 20_000, "renewed storage tokens");
    const device = await a.ctx.store.getDeviceByGuid(deviceGuid);
    const archives = async () => a.ctx.store.archivesOfDevices([device!.deviceId]);
    // the agent's report: the last backup of the outage
    await eventually(async () => ((await archives())[0]?.lastBackupAt ?? 0) >= lastVersionTime, 20_000, "the agent's report");

    // past the old tokens' expiry: the renewed ones carry on
    skew += 1.5 * DAY_MS;
    expect(clock.now()).toBeGreaterThan(tokenBefore);
    round++;
    writeFileSync(join(c.agents[0]!.home, `round-${round}.txt`), "after the renewal\n");
    const after = await daemon.backupNow();
    expect(after.errors).toBe(0);
    await restoreAndCompare(round, "after the renewal\n");

    // the node's figures catch up once its link is back (its own backoff, at most a minute)
    await eventually(() => a.ctx.nodes.isConnected(c.nodes[0]!.serverId), 70_000, "the node's link");
    await eventually(async () => ((await archives())[0]?.lastCompletedBackupAt ?? 0) >= lastVersionTime, 20_000, "the outage's backups in the figures");
    // and registrations work again
    const newcomer = await registerAgent({
      dataDir: join(c.dir, "newcomer"),
      authorityUrl: c.authority.url,
      authorityFingerprint: c.authority.fingerprint,
      registrationKey: c.authority.registrationKey,
      username: "newcomer@example.com",
      password: "newcomer password 1",
      clock,
      logger: c.logger,
    });
    expect(newcomer.guid).toMatch(/^\d+$/);
  });
});
