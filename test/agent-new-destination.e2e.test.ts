/**
 * A destination offered while the agent daemon runs (seed: "once you offer the destination,
 * backups start automatically"): the daemon hears of it over its control link, and its first
 * backup there holds the whole selection, even when that backup was started by a single changed
 * file (the watcher's paths), not just that file.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type AgentHandle, startAgent } from "@cairn/agent";
import { createProviderKey } from "@cairn/storenode";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "./helpers/cairn-process.js";
import { type Cluster, type ClusterAgent, startCluster } from "./helpers/cluster.js";

let provider: Cluster;
let c: Cluster;
let a: ClusterAgent;
let daemon: AgentHandle | null = null;

function archivesOf(dataDir: string): Array<{ destinationGuid: string; archiveGuid: string }> {
  const db = new Database(join(dataDir, "agent.db"), { readonly: true, fileMustExist: true });
  try {
    return db.prepare("SELECT destination_guid AS destinationGuid, archive_guid AS archiveGuid FROM archives").all() as Array<{
      destinationGuid: string;
      archiveGuid: string;
    }>;
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  provider = await startCluster({ agents: 0 });
  c = await startCluster({ agents: 1 });
  a = c.agents[0] as ClusterAgent;
  for (let i = 0; i < 5; i++) writeFileSync(join(a.home, `file-${i}.txt`), `file ${i}\n`);
  a.select();
  expect((await a.backup()).files).toBe(5);
  daemon = await startAgent({ dataDir: a.dataDir, clock: c.clock, logger: c.logger, tickMs: 0, localApi: false });
  await eventually(async () => daemon?.authorityConnected || undefined, 15_000, "the daemon's control link");
}, 120_000);
afterAll(async () => {
  await daemon?.close();
  await c?.dispose();
  await provider?.dispose();
});

describe("a destination offered while the daemon runs", () => {
  it("gets the whole selection in its first backup, though only one file changed", async () => {
    const d = daemon as AgentHandle;
    // the daemon's own first (full) backup, so that the next one is a watcher-paths run
    expect((await d.requestBackup()).files).toBe(5);
    const node = provider.nodes[0];
    if (node === undefined) throw new Error("no provider node");
    const key = createProviderKey({ dataDir: node.dataDir, tenantName: "Tenant", urls: [node.handle.url] });
    const dest = await c.addProviderDestination("Offsite", key.providerKey);
    // offered system-wide with auto-start beside the first one, as the console's "Offer destinations" does
    const py = c.authority.py42();
    const offers = (await py.data("GET", "/api/v1/settings/destinations")) as { destinations: Array<{ destinationId: number; offered: boolean }> };
    await py.data("PUT", "/api/v1/settings/destinations", {
      destinations: offers.destinations.map((x) => ({ destinationId: x.destinationId, offered: true, autoStart: true })),
    });
    const added = await eventually(() => archivesOf(a.dataDir).find((r) => r.destinationGuid === dest.destinationGuid), 20_000, "the new archive");
    writeFileSync(join(a.home, "file-0.txt"), "file 0, changed\n");
    const r = await d.requestBackup();
    const offsite = r.destinations.find((x) => x.archiveGuid === added.archiveGuid);
    expect(offsite, JSON.stringify(r.destinations)).toMatchObject({ mode: "full", files: 5 });
    // while the first destination's run was the watcher's paths
    expect(r.destinations.find((x) => x.archiveGuid !== added.archiveGuid)).toMatchObject({ mode: "paths", files: 5 });
    // and the new archive restores every file
    const target = join(c.dir, "restored-offsite");
    const res = await a.restore({ target, paths: [`${a.home}/`], archiveGuid: added.archiveGuid });
    expect([res.errors, res.files]).toEqual([0, 5]);
  });
});
