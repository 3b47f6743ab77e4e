import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AGENT_VERSION, DataSession, runBackup } from "@cairn/agent";
import { Chunker, chunkId, deriveArchiveKeys, gearTable, systemClock } from "@cairn/protocol";
import Database from "better-sqlite3";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { archiveDir, startTestNode, type TestArchive, type TestNode } from "./agent-helpers.js";

const logger = pino({ level: "silent" });

function filesBelow(dir: string, out: string[] = []): string[] {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    const st = statSync(p);
    if (st.isDirectory()) filesBelow(p, out);
    else if (st.isFile()) out.push(p);
  }
  return out;
}

/** The block ids the node stores for an archive (its index, read as the operator could). */
function storedIds(tn: TestNode, a: TestArchive): Set<string> {
  const db = new Database(join(archiveDir(tn, a.endpoint.archiveGuid), "index.db"), { readonly: true, fileMustExist: true });
  try {
    return new Set((db.prepare("SELECT id FROM bs_blocks").all() as Array<{ id: Buffer }>).map((r) => r.id.toString("hex")));
  } finally {
    db.close();
  }
}

/** Every plaintext chunk of a file as the agent cuts it for this archive. */
function chunksOf(a: TestArchive, data: Buffer): Buffer[] {
  const keys = deriveArchiveKeys(a.archiveKey, a.endpoint.archiveGuid);
  const ch = new Chunker(gearTable(keys.cdc));
  const out: Buffer[] = [];
  for (let off = 0; off < data.length; ) {
    const n = ch.cut(data, off, data.length, true);
    out.push(data.subarray(off, off + n));
    off += n;
  }
  return out;
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("what the storage side can learn", () => {
  let tn: TestNode;
  const work = mkdtempSync(join(tmpdir(), "cairn-e2e-privacy-"));
  beforeAll(async () => {
    tn = await startTestNode();
  });
  afterAll(async () => {
    await tn?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("T17: canary strings in contents and names appear in no file of the node; chunk ids are not SHA-256 of the plaintext", async () => {
    const a = await tn.newArchive();
    const contentCanary = `CANARY-CONTENT-${randomBytes(8).toString("hex")}`;
    const nameCanary = `CANARY-NAME-${randomBytes(8).toString("hex")}`;
    const src = join(work, "t17", `dir-${nameCanary}`);
    mkdirSync(src, { recursive: true });
    const files = new Map<string, Buffer>([
      [join(src, `notes-${nameCanary}.txt`), Buffer.from(`meeting notes ${contentCanary}\n`.repeat(2000))],
      [join(src, "random-with-canary.bin"), Buffer.concat([randomBytes(300_000), Buffer.from(contentCanary), randomBytes(600_000)])],
      [join(src, "big-text.log"), Buffer.from(`${"x".repeat(100)} ${contentCanary}\n`.repeat(30_000))],
      [join(src, "tiny"), Buffer.from(contentCanary)],
    ]);
    for (const [p, b] of files) writeFileSync(p, b);
    const r = await runBackup({ dataDir: join(work, "t17-agent"), archives: [a], selection: { include: [src], exclude: [], excludePatterns: [] }, logger });
    expect(r.errors).toBe(0);
    await tn.restart(); // every byte the node keeps is on disk now (SQLite checkpointed, packs closed)
    const needles = [contentCanary, nameCanary, "notes-", "random-with-canary", "big-text.log"].map((s) => Buffer.from(s, "utf8"));
    const onDisk = filesBelow(tn.dir);
    expect(onDisk.length).toBeGreaterThan(3);
    for (const f of onDisk) {
      const bytes = readFileSync(f);
      for (const n of needles) expect(bytes.includes(n), `${n.toString()} found in ${f}`).toBe(false);
    }
    const ids = storedIds(tn, a);
    const keys = deriveArchiveKeys(a.archiveKey, a.endpoint.archiveGuid);
    for (const b of files.values()) {
      for (const c of chunksOf(a, b)) {
        expect(ids.has(chunkId(keys, c).toString("hex"))).toBe(true); // the stored id is the keyed one…
        expect(ids.has(sha256(c))).toBe(false); // …never one the operator can compute from the content
      }
    }
  }, 60_000);

  it("T18: two users (other orgs, and the same org) backing up the same 50 MB file: disjoint ids, full uploads, have says no", async () => {
    const a = await tn.newArchive();
    const b = await tn.newArchive();
    const c = await tn.newArchive({ orgUid: b.orgUid });
    const src = join(work, "t18");
    mkdirSync(src);
    const content = randomBytes(50 * 1024 * 1024);
    writeFileSync(join(src, "shared.bin"), content);
    const sel = { include: [src], exclude: [], excludePatterns: [] };
    const up: number[] = [];
    for (const [i, x] of [a, b, c].entries()) {
      const r = await runBackup({ dataDir: join(work, `t18-agent-${i}`), archives: [x], selection: sel, logger });
      expect(r.errors).toBe(0);
      up.push(r.uploadedBytes);
    }
    // each stored the whole file, as if the others did not exist
    for (const u of up) expect(u).toBeGreaterThan(content.length);
    expect(Math.max(...up) - Math.min(...up)).toBeLessThan(content.length * 0.01);
    const [ia, ib, ic] = [a, b, c].map((x) => storedIds(tn, x)) as [Set<string>, Set<string>, Set<string>];
    for (const [x, y] of [
      [ia, ib],
      [ia, ic],
      [ib, ic],
    ] as const)
      for (const id of x) expect(y.has(id)).toBe(false);
    // the operator's ids for the known plaintext match nothing
    const all = new Set([...ia, ...ib, ...ic]);
    for (const ch of chunksOf(a, content)) expect(all.has(sha256(ch))).toBe(false);
    // A asks its node about B's and C's ids: "no"; about its own: "yes" (the control)
    const s = new DataSession({ endpoint: a.endpoint, mode: "backup", agentVersion: AGENT_VERSION, clock: systemClock, logger });
    await s.open();
    try {
      const ask = async (ids: Set<string>) => (await s.call("have", { ids: Buffer.concat([...ids].map((h) => Buffer.from(h, "hex"))) })).present;
      for (const other of [ib, ic]) expect([...(await ask(other))].every((byte) => byte === 0)).toBe(true);
      const own = await ask(ia);
      for (let i = 0; i < ia.size; i++) expect(((own[i >> 3] as number) >> (7 - (i & 7))) & 1).toBe(1);
    } finally {
      await s.close(true);
    }
  }, 120_000);
});
