/**
 * A storage node lost for good (docs/operations.md "A storage node is lost"): its archives are
 * gone with it; the operator enrolls a replacement node into a new destination, offers it with
 * auto-start and removes the lost destination (its archives go to cold storage). The agent daemon
 * hears of it at once (config-changed), makes a new archive on the replacement and uploads
 * everything again into it, and restores come from it.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { agentStatus, startAgent } from "@cairn/agent";
import { eventually } from "./helpers/cairn-process.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, startCluster } from "./helpers/cluster.js";

describe("a storage node lost for good", () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await startCluster({ agents: 1 });
  });
  afterAll(async () => {
    await c?.dispose();
  });

  it("the agent re-uploads into a replacement destination and restores from it", async () => {
    const a = c.agents[0]!;
    writeFileSync(join(a.home, "thesis.txt"), "chapter one\n".repeat(500));
    a.select();
    await a.backup();
    const lost = (await c.authority.ctx.store.listDestinations()).find((d) => d.destinationGuid === c.destination.destinationGuid)!;
    await c.nodes[0]!.stop();

    const daemon = await startAgent({ dataDir: a.dataDir, logger: c.logger, tickMs: 0, watch: false });
    await eventually(() => daemon.authorityConnected, 20_000, "the agent's link");
    const py = c.authority.py42();
    await c.addNode({ destinationName: "Replacement" });
    const replacement = (await c.authority.ctx.store.listDestinations()).find((d) => d.name === "Replacement")!;
    await py.data("PUT", "/api/v1/settings/destinations", { destinations: [{ destinationId: replacement.destinationId, offered: true, autoStart: true }] });
    await py.data("DELETE", `/api/v1/destinations/${lost.destinationId}`);

    const fresh = await eventually(
      () => agentStatus({ dataDir: a.dataDir }).destinations.find((d) => d.destinationGuid === replacement.destinationGuid),
      20_000,
      "the new archive",
    );
    writeFileSync(join(a.home, "thesis.txt"), "chapter one, rewritten\n".repeat(500));
    const r = await daemon.backupNow();
    await daemon.close();
    expect(r.errors).toBe(0);
    expect(r.destinations).toHaveLength(1);
    expect(r.uploadedBytes).toBeGreaterThan(0);
    expect(agentStatus({ dataDir: a.dataDir }).destinations.find((d) => d.archiveGuid === fresh.archiveGuid)?.lastCompletedBackup).not.toBeNull();

    const target = join(c.dir, "after-loss");
    mkdirSync(target);
    const res = await a.restore({ archiveGuid: fresh.archiveGuid, target, paths: [join(a.home, "thesis.txt")] });
    expect(res.errors).toBe(0);
    expect(readFileSync(join(target, "thesis.txt"), "utf8")).toBe("chapter one, rewritten\n".repeat(500));
    const cold = await c.authority.ctx.store.archivesOfDevices([(await c.authority.ctx.store.getDeviceByGuid(a.registration.guid))!.deviceId]);
    expect(cold.find((x) => x.destinationGuid === lost.destinationGuid)?.cold).toBe(true);
  });
});
