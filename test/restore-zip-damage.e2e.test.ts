/**
 * T07/T08 for the web console's zip: a file whose data the storage node lacks (its pack deleted
 * behind the node's back, found by the next maintenance) is left out of the zip and named in its
 * warnings file; every other file restores, and the zip passes `unzip -t` with the
 * Content-Length it announced, instead of breaking off in the middle of the download. A block
 * that rots unnoticed fails the one download that reads it (the job names the file); the node
 * marks the block damaged then, so the next zip of the same folder leaves the file out.
 */
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readdirSync, readSync, statSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { isCairnError } from "@cairn/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, type ClusterAgent, startCluster } from "./helpers/cluster.js";
import { Py42Restore, unzipTest, zipEntries } from "./helpers/restore-client.js";

let c: Cluster;
let a: ClusterAgent;
let owner: Py42Restore;

function packsIn(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith(".pack")) out.push(p);
    }
  };
  walk(dir);
  return out;
}

const kept = randomBytes(300_000);

beforeAll(async () => {
  c = await startCluster({ agents: 1 });
  a = c.agents[0] as ClusterAgent;
  writeFileSync(join(a.home, "kept.bin"), kept);
  a.select();
  expect((await a.backup()).errors).toBe(0);
  owner = new Py42Restore(c.authority, c.authority.py42(a.username, a.password));
}, 120_000);
afterAll(async () => {
  owner?.close();
  await c?.dispose();
});

describe("a zip restore with a file the node lacks", () => {
  it("leaves that file out, names it in the warnings file, and restores the rest in a valid zip", async () => {
    const node = c.nodes[0];
    if (node === undefined) throw new Error("no node");
    const before = new Set(packsIn(node.storePointDir));
    writeFileSync(join(a.home, "lost.bin"), randomBytes(200_000));
    expect((await a.backup()).errors).toBe(0);
    const added = packsIn(node.storePointDir).filter((p) => !before.has(p));
    expect(added.length).toBeGreaterThan(0);
    for (const p of added) unlinkSync(p);
    // the next maintenance notices the pack is gone (and refuses to collect garbage)
    const m = await node.handle.maintain({}).catch((e: unknown) => e);
    if (m instanceof Error) expect(isCairnError(m, "STORE_INCONSISTENT"), String(m)).toBe(true);

    const { job, zip } = await owner.zip(a.registration.guid, [a.home]);
    expect(job).toMatchObject({ done: true, status: "done" });
    expect(zip.status).toBe(200);
    expect(Number(zip.headers["content-length"])).toBe(zip.body.length);
    expect(unzipTest(zip.body, join(c.dir, "damaged.zip")).ok).toBe(true);
    const entries = await zipEntries(zip.body);
    expect(entries.get("home1/kept.bin")?.equals(kept)).toBe(true);
    expect(entries.has("home1/lost.bin")).toBe(false);
    const warnings = entries.get("RESTORE-WARNINGS.txt")?.toString("utf8") ?? "";
    expect(warnings).toContain(`skipped "${a.home}/lost.bin": its data is missing or damaged on the storage node`);
  });

  it("a block that rots unnoticed fails the download that reads it; the node marks it, and the next zip leaves the file out", async () => {
    const node = c.nodes[0];
    if (node === undefined) throw new Error("no node");
    const before = new Set(packsIn(node.storePointDir));
    writeFileSync(join(a.home, "rotten.bin"), randomBytes(150_000));
    expect((await a.backup()).errors).toBe(0);
    const added = packsIn(node.storePointDir).filter((p) => !before.has(p));
    expect(added.length).toBeGreaterThan(0);
    // flip a byte in the middle of each new pack: inside the new file's data, found by no verification yet
    for (const p of added) {
      const fd = openSync(p, "r+");
      const at = Math.floor(statSync(p).size / 2);
      const b = Buffer.alloc(1);
      readSync(fd, b, 0, 1, at);
      b[0] = (b[0] as number) ^ 0x40;
      writeSync(fd, b, 0, 1, at);
      closeSync(fd);
    }
    const first = await owner.zip(a.registration.guid, [`${a.home}/rotten.bin`]);
    expect(first.zip.truncated).toBe(true);
    const failed = await owner.waitJob(first.jobId);
    expect(failed).toMatchObject({ done: true, status: "failed" });
    expect(failed.message).toContain("rotten.bin");
    const again = await owner.zip(a.registration.guid, [a.home]);
    expect(again.zip.truncated).toBe(false);
    expect(unzipTest(again.zip.body, join(c.dir, "after-rot.zip")).ok).toBe(true);
    const entries = await zipEntries(again.zip.body);
    expect(entries.get("home1/kept.bin")?.equals(kept)).toBe(true);
    expect(entries.has("home1/rotten.bin")).toBe(false);
    expect(entries.get("RESTORE-WARNINGS.txt")?.toString("utf8")).toContain(`skipped "${a.home}/rotten.bin"`);
  });
});
