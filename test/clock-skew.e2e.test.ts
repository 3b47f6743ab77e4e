/**
 * RELIABILITY.md T16, the device's side of it: a device whose clock is behind the servers' (here
 * the servers were set up, and run, 10 days ahead of this machine's clock) still backs up and
 * restores. Identity is the pinned certificate fingerprint, so the self-signed certificates'
 * validity starts a month before they are made: the TLS stack judges it by the device's clock.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DAY_MS, ManualClock } from "@cairn/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, startCluster } from "./helpers/cluster.js";

let c: Cluster;
beforeAll(async () => {
  c = await startCluster({ agents: 1, clock: new ManualClock(Date.now() + 10 * DAY_MS) });
}, 60_000);
afterAll(async () => {
  await c?.dispose();
});

describe("T16: a device clock 10 days behind the servers", () => {
  it("backs up and restores byte for byte: the servers' certificates are already valid by the device's clock", async () => {
    const node = new X509Certificate(readFileSync(join(c.nodes[0]!.dataDir, "tls", "cert.pem")));
    expect(Date.parse(node.validFrom)).toBeLessThan(Date.now() - 2 * DAY_MS);
    const a = c.agents[0]!;
    writeFileSync(join(a.home, "notes.txt"), "written by a device whose clock is behind\n");
    a.select();
    const r = await a.backup();
    expect(r.errors).toBe(0);
    expect(r.files).toBeGreaterThanOrEqual(1);
    const target = join(c.dir, "restored");
    const res = await a.restore({ target, paths: [join(a.home, "notes.txt")] });
    expect(res.errors).toBe(0);
    expect(readFileSync(join(target, "notes.txt"), "utf8")).toBe("written by a device whose clock is behind\n");
  });
});
