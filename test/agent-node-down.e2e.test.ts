/**
 * `cairn agent backup` when the storage node is down: the command says so and exits, as a person
 * at the terminal (or a script) expects. It used to print nothing and never end: the refresh of
 * the configuration it starts in the background connected to the authority after the backup had
 * already failed, and nothing closed that connection (the soak, docs/reliability.md, found it).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnCairn } from "./helpers/cairn-process.js";
import { type Cluster, startCluster } from "./helpers/cluster.js";

describe("cairn agent backup with the storage node down", () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await startCluster({ agents: 1 });
  }, 120_000);
  afterAll(async () => {
    await c?.dispose();
  });

  it("fails with UNAVAILABLE and exits instead of hanging", async () => {
    const a = c.agents[0]!;
    a.select();
    writeFileSync(join(a.home, "a.txt"), "first version\n");
    // a first backup stores the archive's endpoint and a fresh storage token: the next run
    // refreshes the configuration in the background and goes straight to the node
    expect((await a.backup()).errors).toBe(0);
    await c.nodes[0]?.stop();
    writeFileSync(join(a.home, "a.txt"), "second version\n");
    const p = spawnCairn(["--json", "agent", "backup", "--data", a.dataDir]);
    const ended = await Promise.race([p.exited, new Promise<null>((r) => setTimeout(() => r(null), 30_000))]);
    if (ended === null) p.proc.kill("SIGKILL");
    expect(ended, "the command ended by itself").not.toBeNull();
    expect(ended?.code).not.toBe(0);
    const last = JSON.parse(p.lines.filter((l) => l.startsWith("{")).at(-1) ?? "{}") as { message_type?: string; error?: string };
    expect(last).toMatchObject({ message_type: "exit_error", error: "UNAVAILABLE" });
  }, 90_000);

  it("finds a node that came back on another port in the same run, through the authority's new address", async () => {
    const c2 = await startCluster({ agents: 1 });
    try {
      const a = c2.agents[0]!;
      a.select();
      writeFileSync(join(a.home, "b.txt"), "before the move\n");
      expect((await a.backup()).errors).toBe(0);
      const old = c2.nodes[0]?.handle.port;
      await c2.nodes[0]?.restart({ newPort: true });
      expect(c2.nodes[0]?.handle.port).not.toBe(old);
      writeFileSync(join(a.home, "b.txt"), "after the move\n");
      const r = await a.backup();
      expect([r.errors, r.failed]).toEqual([0, []]);
      expect(r.changedFiles).toBe(1);
    } finally {
      await c2.dispose();
    }
  }, 120_000);
});
