/**
 * Agent upgrades through "Upgrade Clients" (issue 9): two agent builds that report different
 * versions, installed the way the service runs them (`<upgrade.dir>/current/cli/bin/cairn.js agent
 * serve --config agent.toml`, restarted on exit 75 as systemd's RestartForceExitStatus does), a
 * package altered after signing and one whose signature does not verify (both refused, the agent
 * keeps running its version), then the good one: downloaded with the device token, verified,
 * switched in at a safe point, and the agent back on the new version, reporting it and backing up.
 */
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { addAgentPackage, removeAgentPackage } from "@cairn/authority";
import { signAgentPackage } from "@cairn/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CairnProcess, eventually, spawnProcess } from "./helpers/cairn-process.js";
import { type Cluster, startCluster } from "./helpers/cluster.js";

const MAKE_PACKAGE = fileURLToPath(new URL("../packaging/make-agent-package.mjs", import.meta.url));

function buildPackage(dir: string, version: string): string {
  const out = join(dir, `cairn-agent-${version}.tar.gz`);
  execFileSync(process.execPath, [MAKE_PACKAGE, "--version", version, "--out", out, "--node-modules", "link"]);
  return out;
}

describe("agent upgrades (Upgrade Clients)", () => {
  let c: Cluster;
  let up: string;
  let toml: string;
  let deviceId: number;
  let orgId: number;
  const started: CairnProcess[] = [];
  const serve = () => {
    const p = spawnProcess([join(up, "current/cli/bin/cairn.js"), "--log-level", "debug", "agent", "serve", "--config", toml]);
    started.push(p);
    return p;
  };
  const upgradeClients = (body?: unknown) => c.authority.py42().data("POST", `/api/v1/orgs/${orgId}/upgrade-clients`, body) as Promise<Record<string, unknown>>;

  beforeAll(async () => {
    c = await startCluster({ agents: 1 });
    const a = c.agents[0]!;
    writeFileSync(join(a.home, "report.txt"), "quarterly figures\n");
    a.select();
    const device = await c.authority.ctx.store.getDeviceByGuid(a.registration.guid);
    deviceId = device!.deviceId;
    orgId = (await c.authority.ctx.store.getOrgByUid(c.authority.orgUid))!.orgId;
    up = join(c.dir, "opt-cairn-agent");
    mkdirSync(join(up, "versions", "0.1.1"), { recursive: true });
    execFileSync("tar", ["-xzf", buildPackage(c.dir, "0.1.1"), "-C", join(up, "versions", "0.1.1")]);
    symlinkSync("versions/0.1.1", join(up, "current"));
    toml = join(c.dir, "agent.toml");
    writeFileSync(toml, `data = ${JSON.stringify(a.dataDir)}\n[authority]\nreconnect_max_delay = "2s"\n[upgrade]\ndir = ${JSON.stringify(up)}\n`);
  });

  afterAll(async () => {
    for (const p of started) await p.stop(5000);
    await c?.dispose();
  });

  it("refuses an altered and an unsigned package, then installs a signed newer build at a safe point and comes back on it", async () => {
    const first = serve();
    await first.waitFor((_l, j) => j?.msg === "agent started" && j.version === "cairn-agent/0.1.1");
    await eventually(() => c.authority.ctx.agents.isConnected(deviceId), 20_000, "the agent's control link");
    await eventually(() => existsSync(join(c.agents[0]!.dataDir, "package-key.json")), 20_000, "the pinned package-signing key");
    await eventually(async () => (await c.authority.ctx.store.getDevice(deviceId))?.agentVersion === "cairn-agent/0.1.1", 20_000, "the old version's report");

    // altered after signing: the bytes no longer hash to the signed SHA-256
    const pkg3 = buildPackage(c.dir, "0.1.3");
    await addAgentPackage({ dataDir: c.authority.dataDir, file: pkg3, version: "0.1.3" });
    const stored = join(c.authority.dataDir, "packages", "0.1.3", "package.tar.gz");
    const original = readFileSync(stored);
    const altered = Buffer.from(original);
    const mid = Math.floor(altered.length / 2);
    altered.writeUInt8(altered.readUInt8(mid) ^ 0x40, mid);
    writeFileSync(stored, altered);
    expect(await upgradeClients({ version: "0.1.3" })).toMatchObject({ offeredVersion: "0.1.3", notifiedDevices: 1 });
    const refusedAltered = (await first.waitFor((_l, j) => j?.msg === "upgrade refused")) as Record<string, unknown>;
    expect(String(refusedAltered.err)).toContain("is not the signed");

    // not signed by the authority's package key
    writeFileSync(stored, original);
    const manifestFile = join(c.authority.dataDir, "packages", "0.1.3", "package.json");
    const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as { sha256: string; signature: string };
    const stranger = generateKeyPairSync("ed25519").privateKey;
    writeFileSync(manifestFile, JSON.stringify({ ...manifest, signature: signAgentPackage(stranger, "0.1.3", manifest.sha256) }));
    await upgradeClients({ version: "0.1.3" });
    await eventually(() => first.lines.filter((l) => l.includes('"msg":"upgrade refused"')).length === 2, 20_000, "the second refusal");
    expect(first.lines.filter((l) => l.includes('"msg":"upgrade refused"'))[1]).toContain("does not verify");
    expect(readlinkSync(join(up, "current"))).toBe("versions/0.1.1");
    expect(first.proc.exitCode).toBeNull();
    removeAgentPackage(c.authority.dataDir, "0.1.3");

    // the good build: the newest package, offered to the org's devices
    await addAgentPackage({ dataDir: c.authority.dataDir, file: buildPackage(c.dir, "0.1.2"), version: "0.1.2" });
    expect(await upgradeClients()).toMatchObject({ deviceCount: 1, offeredVersion: "0.1.2", notifiedDevices: 1 });
    await first.waitFor((_l, j) => j?.msg === "upgrade installed; restarting on the new version");
    expect((await first.exited).code).toBe(75);
    expect(readlinkSync(join(up, "current"))).toBe("versions/0.1.2");

    // the service manager starts `current` again: the new build
    const before = Date.now();
    const second = serve();
    await second.waitFor((_l, j) => j?.msg === "agent started" && j.version === "cairn-agent/0.1.2");
    await eventually(async () => (await c.authority.ctx.store.getDevice(deviceId))?.agentVersion === "cairn-agent/0.1.2", 20_000, "the new version's report");
    // the new build backs up (a full scan at start)
    await eventually(
      async () => (await c.authority.ctx.store.archivesOfDevices([deviceId])).some((x) => (x.lastCompletedBackupAt ?? 0) >= before - 1000),
      30_000,
      "a backup by the new version",
    );
    const stop = await second.stop();
    expect(stop.code).toBe(0);
  });
});
