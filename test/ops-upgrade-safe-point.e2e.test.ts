/**
 * The agent's upgrade handler in process, against a real authority: the package key is pinned on
 * first use and never replaced; an older offer is ignored; an unsigned or altered package is
 * refused before anything is unpacked; a good one is unpacked at once but switched in only at a
 * safe point (no backup or restore running), after which nothing new may start. An offer stands:
 * an agent of the org that connects later gets it then.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AgentMetrics, readPinnedKey, startAgent, UpgradeManager } from "@cairn/agent";
import { addAgentPackage, type AgentPackage } from "@cairn/authority";
import { systemClock } from "@cairn/protocol";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "./helpers/cairn-process.js";
import { type Cluster, startCluster } from "./helpers/cluster.js";

function tinyPackage(dir: string, version: string): string {
  const root = join(dir, `tree-${version}`);
  mkdirSync(join(root, "cli", "bin"), { recursive: true });
  writeFileSync(join(root, "cli", "bin", "cairn.js"), `console.log("cairn ${version}");\n`);
  writeFileSync(join(root, "cairn-package.json"), JSON.stringify({ name: "cairn-agent", version, entry: "cli/bin/cairn.js" }));
  const file = join(dir, `pkg-${version}.tar.gz`);
  execFileSync("tar", ["-czf", file, "-C", root, "."]);
  return file;
}

describe("the upgrade handler", () => {
  let c: Cluster;
  let pkg: AgentPackage;
  const offerOf = (p: AgentPackage) => ({
    version: p.version,
    url: `${c.authority.url}/api/v1/agent-packages/${p.version}/download`,
    sha256: p.sha256,
    signature: p.signature,
  });

  beforeAll(async () => {
    c = await startCluster({ agents: 1, nodes: 0 });
    pkg = await addAgentPackage({ dataDir: c.authority.dataDir, file: tinyPackage(c.dir, "0.2.0"), version: "0.2.0" });
  });
  afterAll(async () => {
    await c?.dispose();
  });

  const outcomes = async (m: AgentMetrics) => Object.fromEntries((await m.upgrades.get()).values.map((v) => [String(v.labels.outcome), v.value]));
  const manager = (dir: string, busy: { now: boolean }, ready: string[], version = "cairn-agent/0.1.0", metrics = new AgentMetrics()) =>
    new UpgradeManager({
      dataDir: c.agents[0]!.dataDir,
      dir,
      enabled: true,
      managed: true,
      configuredKey: null,
      runningVersion: version,
      clock: systemClock,
      logger: pino({ level: "silent" }),
      proxy: null,
      isBusy: () => busy.now,
      onReady: (v) => ready.push(v),
      pollMs: 20,
      metrics,
    });

  it("pins the package key on first use and keeps it", async () => {
    const m = manager(join(c.dir, "pin"), { now: false }, []);
    await m.pinFromAuthority();
    const pinned = readPinnedKey(c.agents[0]!.dataDir);
    expect(pinned?.publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const file = join(c.agents[0]!.dataDir, "package-key.json");
    writeFileSync(file, JSON.stringify({ ...pinned, publicKey: "A".repeat(43) }));
    await m.pinFromAuthority();
    expect(readPinnedKey(c.agents[0]!.dataDir)?.publicKey).toBe("A".repeat(43));
    writeFileSync(file, JSON.stringify(pinned));
  });

  it("ignores an offer that is not newer, refuses unsigned and altered packages before unpacking", async () => {
    const dir = join(c.dir, "refuse");
    const ready: string[] = [];
    const metrics = new AgentMetrics();
    const newer = manager(dir, { now: false }, ready, "cairn-agent/0.2.0", metrics);
    newer.offer(offerOf(pkg));
    await newer.settled();
    expect(newer.holding).toBe(false);
    const m = manager(dir, { now: false }, ready, "cairn-agent/0.1.0", metrics);
    m.offer({ ...offerOf(pkg), signature: "A".repeat(86) });
    await m.settled();
    m.offer({ ...offerOf(pkg), sha256: "0".repeat(64) });
    await m.settled();
    expect(await outcomes(metrics)).toEqual({ ignored: 1, refused: 2 });
    expect(existsSync(join(dir, "versions", "0.2.0"))).toBe(false);
    expect(existsSync(join(dir, "current"))).toBe(false);
    expect(ready).toEqual([]);
  });

  it("unpacks at once and switches only at a safe point", async () => {
    const dir = join(c.dir, "safe");
    const busy = { now: true };
    const ready: string[] = [];
    const m = manager(dir, busy, ready);
    m.offer(offerOf(pkg));
    await eventually(() => existsSync(join(dir, "versions", "0.2.0", "cairn-package.json")), 20_000, "the unpacked package");
    await new Promise((r) => setTimeout(r, 200));
    expect(existsSync(join(dir, "current"))).toBe(false);
    expect(m.holding).toBe(false);
    expect(ready).toEqual([]);
    busy.now = false;
    await m.settled();
    expect(readlinkSync(join(dir, "current"))).toBe("versions/0.2.0");
    expect(readFileSync(join(dir, "current", "cli", "bin", "cairn.js"), "utf8")).toContain("cairn 0.2.0");
    expect(m.holding).toBe(true);
    expect(ready).toEqual(["0.2.0"]);
  });

  it("a standing offer reaches an agent that connects after Upgrade Clients", async () => {
    const org = await c.authority.ctx.store.getOrgByUid(c.authority.orgUid);
    const r = (await c.authority.py42().data("POST", `/api/v1/orgs/${org!.orgId}/upgrade-clients`, { version: "0.2.0" })) as Record<string, unknown>;
    expect(r).toMatchObject({ offeredVersion: "0.2.0", notifiedDevices: 0 });
    const dir = join(c.dir, "later");
    let restart: (v: string) => void = () => undefined;
    const restarted = new Promise<string>((res) => {
      restart = res;
    });
    const daemon = await startAgent({
      dataDir: c.agents[0]!.dataDir,
      logger: pino({ level: "silent" }),
      tickMs: 0,
      watch: false,
      upgrade: { dir, enabled: true, packageKey: null, managed: true },
      onRestart: (v) => restart(v),
    });
    try {
      expect(await restarted).toBe("0.2.0");
      expect(readlinkSync(join(dir, "current"))).toBe("versions/0.2.0");
    } finally {
      await daemon.close();
    }
  });
});
