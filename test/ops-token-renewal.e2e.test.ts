/**
 * A daemon that stays connected for days renews its storage tokens (DECISIONS.md: "renewed by the
 * agent whenever the authority is reachable, long before they expire"): once a seventh of their
 * lifetime has passed, so an outage starting at any moment finds them with six days or more.
 */
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { agentStatus, startAgent } from "@cairn/agent";
import { type Clock, DAY_MS, HOUR_MS } from "@cairn/protocol";
import { afterAll, describe, expect, it } from "vitest";
import { eventually } from "./helpers/cairn-process.js";
import { type Cluster, startCluster } from "./helpers/cluster.js";

let skew = 0;
const clock: Clock = { now: () => Date.now() + skew };

describe("storage tokens of a connected daemon", () => {
  let c: Cluster;
  afterAll(async () => {
    await c?.dispose();
  });

  it("are renewed about daily while the link stays up", async () => {
    c = await startCluster({ agents: 1, clock });
    writeFileSync(join(c.agents[0]!.home, "a.txt"), "a\n");
    c.agents[0]!.select();
    const daemon = await startAgent({ dataDir: c.agents[0]!.dataDir, clock, logger: c.logger, tickMs: 0, watch: false });
    try {
      await eventually(() => daemon.authorityConnected, 20_000, "the link");
      await daemon.backupNow();
      const expiry = () => Date.parse(agentStatus({ dataDir: c.agents[0]!.dataDir }).destinations[0]?.tokenExpiresAt ?? "");
      const first = expiry();
      skew += 12 * HOUR_MS;
      await daemon.tick();
      await new Promise((r) => setTimeout(r, 300));
      expect(expiry()).toBe(first);
      skew += 13 * HOUR_MS;
      await daemon.tick();
      await eventually(() => expiry() > first + 20 * HOUR_MS, 10_000, "renewed tokens");
      expect(expiry() - clock.now()).toBeGreaterThan(6.9 * DAY_MS);
    } finally {
      await daemon.close();
    }
  });
});
