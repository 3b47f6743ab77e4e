/**
 * The whole flow of docs/architecture.md through the real authority: a storage node enrolled
 * with an enroll key, an agent registered with the org's registration key, a backup of a small
 * tree and a restore byte for byte through the agent's library.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
});
