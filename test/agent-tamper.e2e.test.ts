import { createHash, randomBytes } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBackup, runRestore } from "@cairn/agent";
import { Chunker, chunkId, deriveArchiveKeys, fileIdFor, gearTable } from "@cairn/protocol";
import Database from "better-sqlite3";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { archiveDir, startTestNode, type TestArchive, type TestNode } from "./agent-helpers.js";

const logger = pino({ level: "silent" });

interface Row {
  pack: number;
  offset: number;
  length: number;
  sha: Buffer;
}

/** The node's storage of one archive, opened as an operator (or an attacker on the node) could. */
class NodeStorage {
  readonly dir: string;
  readonly db: Database.Database;
  constructor(tn: TestNode, a: TestArchive) {
    this.dir = archiveDir(tn, a.endpoint.archiveGuid);
    this.db = new Database(join(this.dir, "index.db"), { fileMustExist: true });
  }
  /** A pack's file, wherever the node's layout puts it below packs/. */
  packPath(pack: number): string {
    const name = `${pack.toString(16).padStart(16, "0")}.pack`;
    const find = (d: string): string | null => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) {
          const f = find(p);
          if (f) return f;
        } else if (e.name === name) return p;
      }
      return null;
    };
    const f = find(join(this.dir, "packs"));
    if (!f) throw new Error(`pack ${name} not found`);
    return f;
  }
  row(id: Buffer): Row {
    return this.db.prepare("SELECT pack, offset, length, sha FROM bs_blocks WHERE id = ?").get(id) as Row;
  }
  setRow(id: Buffer, r: Row): void {
    this.db.prepare("UPDATE bs_blocks SET pack = ?, offset = ?, length = ?, sha = ? WHERE id = ?").run(r.pack, r.offset, r.length, r.sha, id);
  }
  read(r: Row): Buffer {
    return readFileSync(this.packPath(r.pack)).subarray(r.offset, r.offset + r.length);
  }
  /** Rewrites a block's bytes in its pack; `fixSha` also updates the checksum the node keeps (covering the tracks). */
  rewrite(id: Buffer, edit: (b: Buffer) => void, fixSha: boolean): void {
    const r = this.row(id);
    const path = this.packPath(r.pack);
    const pack = readFileSync(path);
    const block = pack.subarray(r.offset, r.offset + r.length);
    edit(block);
    writeFileSync(path, pack);
    if (fixSha) this.setRow(id, { ...r, sha: createHash("sha256").update(block).digest() });
  }
  close(): void {
    this.db.close();
  }
}

describe("T19: ciphertext tampered with on the node", () => {
  let tn: TestNode;
  const work = mkdtempSync(join(tmpdir(), "cairn-e2e-tamper-"));
  const src = join(work, "src");
  const contents = new Map<string, Buffer>();
  beforeAll(async () => {
    tn = await startTestNode();
    mkdirSync(src);
    for (let i = 0; i < 5; i++) contents.set(`f${i}.txt`, Buffer.from(`file ${i}: ${randomBytes(8).toString("hex")}\n`.repeat(500 + i * 100)));
    contents.set("big.bin", randomBytes(3 * 1024 * 1024));
    // two files of exactly the same size: a node swapping their block lists keeps every size right
    contents.set("twin-a.bin", randomBytes(40_000));
    contents.set("twin-b.bin", randomBytes(40_000));
    for (const [n, b] of contents) writeFileSync(join(src, n), b);
  });
  afterAll(async () => {
    await tn?.close();
    rmSync(work, { recursive: true, force: true });
  });

  let n = 0;
  /** A fresh archive holding `src`, its storage, and its keys. */
  async function backedUp(): Promise<{ a: TestArchive; st: NodeStorage; id: (name: string) => Buffer; data: string }> {
    const a = await tn.newArchive();
    const data = join(work, `agent-${n++}`);
    const r = await runBackup({ dataDir: data, archives: [a], selection: { include: [src], exclude: [], excludePatterns: [] }, logger });
    expect(r.errors).toBe(0);
    const keys = deriveArchiveKeys(a.archiveKey, a.endpoint.archiveGuid);
    // small files are one chunk; big.bin's first chunk is its first CHUNK_MIN..CHUNK_MAX bytes as cut
    const id = (name: string) => {
      const b = contents.get(name) as Buffer;
      return chunkId(keys, b.subarray(0, new Chunker(gearTable(keys.cdc)).cut(b, 0, b.length, true)));
    };
    return { a, st: new NodeStorage(tn, a), id, data };
  }

  /** Restores everything; the damaged files are reported INTEGRITY and absent, the rest are intact. */
  async function expectOnly(a: TestArchive, data: string, damaged: string[]): Promise<void> {
    const out = join(work, `out-${n++}`);
    const r = await runRestore({ dataDir: data, archive: a, target: out, paths: [src], logger });
    expect(r.errorList.map((e) => [e.path, e.code]).sort()).toEqual(damaged.map((d) => [join(src, d), "INTEGRITY"]).sort());
    const dir = join(out, "src");
    for (const [name, b] of contents) {
      if (damaged.includes(name)) expect(existsSync(join(dir, name))).toBe(false);
      else expect(readFileSync(join(dir, name)).equals(b)).toBe(true);
    }
    // nothing of a damaged file remains, not even under a temporary name
    expect(readdirSync(dir).sort()).toEqual([...contents.keys()].filter((k) => !damaged.includes(k)).sort());
  }

  it("T19: a flipped ciphertext bit (checksum fixed up too) fails authentication on the agent", async () => {
    const { a, st, id, data } = await backedUp();
    st.rewrite(id("f1.txt"), (b) => (b[40] = (b[40] as number) ^ 0x08), true);
    st.close();
    await expectOnly(a, data, ["f1.txt"]);
  });

  it("T19: a flipped bit the node's own checksum catches fails that file too", async () => {
    const { a, st, id, data } = await backedUp();
    st.rewrite(id("f2.txt"), (b) => (b[b.length - 1] = (b[b.length - 1] as number) ^ 0x01), false);
    st.close();
    await expectOnly(a, data, ["f2.txt"]);
  });

  it("T19: two blocks swapped (each served under the other's id) fail both files", async () => {
    const { a, st, id, data } = await backedUp();
    const x = st.row(id("f0.txt"));
    const y = st.row(id("f3.txt"));
    st.setRow(id("f0.txt"), y);
    st.setRow(id("f3.txt"), x);
    st.close();
    await expectOnly(a, data, ["f0.txt", "f3.txt"]);
  });

  it("T19: a block transplanted from another archive holding the same file fails", async () => {
    const donor = await backedUp();
    const victim = await backedUp();
    // the donor's sealed block of the same file, appended to the victim's pack under the victim's id
    const from = donor.st.read(donor.st.row(donor.id("f4.txt")));
    const target = victim.st.row(victim.id("f4.txt"));
    const path = victim.st.packPath(target.pack);
    const offset = readFileSync(path).length;
    appendFileSync(path, from);
    victim.st.setRow(victim.id("f4.txt"), { pack: target.pack, offset, length: from.length, sha: createHash("sha256").update(from).digest() });
    donor.st.close();
    victim.st.close();
    await expectOnly(victim.a, victim.data, ["f4.txt"]);
  });

  it("T19: two files' block lists swapped on the node (equal sizes) are caught by the sealed block-list hash", async () => {
    const { a, st, data } = await backedUp();
    const keys = deriveArchiveKeys(a.archiveKey, a.endpoint.archiveGuid);
    const fa = fileIdFor(keys, join(src, "twin-a.bin"));
    const fb = fileIdFor(keys, join(src, "twin-b.bin"));
    const get = st.db.prepare<[Buffer], { blocks: Buffer }>("SELECT blocks FROM file_versions WHERE file_id = ?");
    const ba = (get.get(fa) as { blocks: Buffer }).blocks;
    const bb = (get.get(fb) as { blocks: Buffer }).blocks;
    const set = st.db.prepare("UPDATE file_versions SET blocks = ? WHERE file_id = ?");
    set.run(bb, fa);
    set.run(ba, fb);
    st.close();
    await expectOnly(a, data, ["twin-a.bin", "twin-b.bin"]);
  });

  it("T19: a chunk relabelled as another object type (manifest) fails", async () => {
    const { a, st, id, data } = await backedUp();
    st.rewrite(id("big.bin"), (b) => (b[1] = 3), true);
    st.close();
    await expectOnly(a, data, ["big.bin"]);
  });
});
