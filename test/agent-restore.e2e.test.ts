import { createHash, randomBytes } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBackup, runRestore } from "@cairn/agent";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cuttingProxy, startTestNode, type TestArchive, type TestNode } from "./agent-helpers.js";
import { smallDisk, unmount } from "./helpers/small-disk.js";

const logger = pino({ level: "silent" });
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Every entry below `dir` (relative path → "dir" or the file's SHA-256). */
function listing(dir: string, rel = ""): Map<string, string> {
  const out = new Map<string, string>();
  for (const n of readdirSync(join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${n}` : n;
    if (lstatSync(join(dir, r)).isDirectory()) {
      out.set(r, "dir");
      for (const [k, v] of listing(dir, r)) out.set(k, v);
    } else out.set(r, sha(readFileSync(join(dir, r))));
  }
  return out;
}

describe("T11: restore to a device over a connection that drops", () => {
  let tn: TestNode;
  let archive: TestArchive;
  const work = mkdtempSync(join(tmpdir(), "cairn-e2e-restore-"));
  const src = join(work, "src");
  const data = join(work, "agent");
  let expected: Map<string, string>;
  beforeAll(async () => {
    tn = await startTestNode();
    archive = await tn.newArchive();
    mkdirSync(join(src, "big"), { recursive: true });
    mkdirSync(join(src, "small/nested"), { recursive: true });
    for (let i = 0; i < 8; i++) writeFileSync(join(src, "big", `b${i}.bin`), randomBytes(2 * 1024 * 1024 + i));
    for (let i = 0; i < 40; i++) writeFileSync(join(src, i % 2 ? "small" : "small/nested", `s${i}.txt`), `small file ${i}\n`.repeat(100 + i));
    const r = await runBackup({ dataDir: data, archives: [archive], selection: { include: [src], exclude: [], excludePatterns: [] }, logger });
    expect(r.errors).toBe(0);
    expected = listing(src);
  }, 60_000);
  afterAll(async () => {
    await tn?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("T11: a stream cut mid-restore reconnects, and every file arrives whole and verified", async () => {
    const port = Number(new URL(archive.endpoint.url).port);
    const proxy = await cuttingProxy(port, 5 * 1024 * 1024, "down");
    try {
      const out = join(work, "out-resumed");
      const r = await runRestore({ dataDir: data, archive: proxy.via(archive), target: out, paths: [src], logger });
      expect(proxy.cuts()).toBe(1);
      expect(r.errorList).toEqual([]);
      expect(r.files).toBe(48);
      expect(listing(join(out, "src"))).toEqual(expected);
    } finally {
      await proxy.close();
    }
  }, 60_000);

  it("T11: an interrupted restore leaves no partial file under a final name, and the next restore finishes", async () => {
    const port = Number(new URL(archive.endpoint.url).port);
    const stop = new AbortController();
    const proxy = await cuttingProxy(port, 7 * 1024 * 1024, "down", () => stop.abort());
    const out = join(work, "out-interrupted");
    try {
      await expect(runRestore({ dataDir: data, archive: proxy.via(archive), target: out, paths: [src], logger, signal: stop.signal })).rejects.toMatchObject({
        code: "CANCELLED",
      });
    } finally {
      await proxy.close();
    }
    expect(proxy.cuts()).toBe(1);
    // whatever is under a final name is complete; nothing else (no temp file) is left
    const partial = listing(join(out, "src"));
    let files = 0;
    for (const [rel, v] of partial) {
      expect(rel).not.toMatch(/\.cairn-[0-9a-z]+\.tmp$/);
      expect(expected.get(rel)).toBe(v);
      if (v !== "dir") files++;
    }
    expect(files).toBeLessThan(48);
    const r = await runRestore({ dataDir: data, archive, target: out, paths: [src], logger });
    expect(r.errors).toBe(0);
    expect(listing(join(out, "src"))).toEqual(expected);
  }, 60_000);
});

describe("a restore while a backup runs", () => {
  let tn: TestNode;
  let archive: TestArchive;
  const work = mkdtempSync(join(tmpdir(), "cairn-e2e-restore-busy-"));
  const src = join(work, "src");
  const data = join(work, "agent");
  const selection = { include: [src], exclude: [], excludePatterns: [] };
  beforeAll(async () => {
    tn = await startTestNode();
    archive = await tn.newArchive();
    mkdirSync(src, { recursive: true });
    for (let i = 0; i < 20; i++) writeFileSync(join(src, `doc${i}.txt`), `yesterday's document ${i}\n`.repeat(200 + i));
    const r = await runBackup({ dataDir: data, archives: [archive], selection, logger });
    expect(r.errors).toBe(0);
  }, 60_000);
  afterAll(async () => {
    await tn?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("restores a lost file at once while a long backup holds the run lock; a second backup is still refused", async () => {
    const lost = readFileSync(join(src, "doc7.txt"));
    rmSync(join(src, "doc7.txt"));
    for (let i = 0; i < 6; i++) writeFileSync(join(src, `video${i}.bin`), randomBytes(12 * 1024 * 1024));
    const backup = runBackup({ dataDir: data, archives: [archive], selection, logger });
    const lock = join(data, "run.lock");
    for (let i = 0; i < 500 && !existsSync(lock); i++) await new Promise((r) => setTimeout(r, 10));
    // checked and called in the same turn: the backup cannot release the lock in between
    expect(existsSync(lock)).toBe(true);
    const restore = runRestore({ dataDir: data, archive, target: join(work, "out"), paths: [join(src, "doc7.txt")], logger });
    await expect(runBackup({ dataDir: data, archives: [archive], selection, logger })).rejects.toMatchObject({ code: "LOCKED" });
    const r = await restore;
    expect(r.errorList).toEqual([]);
    expect(r.files).toBe(1);
    expect(readFileSync(join(work, "out", "doc7.txt")).equals(lost)).toBe(true);
    const b = await backup;
    expect(b.errors).toBe(0);
    expect(existsSync(lock)).toBe(false);
  }, 120_000);
});

describe("a restore onto a disk that fills up", () => {
  let tn: TestNode;
  let archive: TestArchive;
  const work = mkdtempSync(join(tmpdir(), "cairn-e2e-restore-full-"));
  const src = join(work, "src");
  const data = join(work, "agent");
  const disk = smallDisk(join(work, "small-disk"), "4m");
  beforeAll(async () => {
    if (!disk) return;
    tn = await startTestNode();
    archive = await tn.newArchive();
    mkdirSync(src, { recursive: true });
    for (let i = 0; i < 1500; i++) writeFileSync(join(src, `photo${String(i).padStart(4, "0")}.jpg`), randomBytes(16 * 1024));
    const r = await runBackup({ dataDir: data, archives: [archive], selection: { include: [src], exclude: [], excludePatterns: [] }, logger });
    expect(r.errors).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await tn?.close();
    if (disk) unmount(disk);
    rmSync(work, { recursive: true, force: true });
  });

  // mounting a tmpfs needs root: without it there is no full disk to restore onto
  it.skipIf(disk === null)(
    "stops at the full disk with TARGET_FULL for every file not restored, keeps what it restored whole and replaces nothing",
    async () => {
      const target = disk as string;
      // a file the restore would overwrite, late in its order: the disk is full before it comes
      mkdirSync(join(target, "src"));
      writeFileSync(join(target, "src", "photo1499.jpg"), "the file already there");
      const r = await runRestore({ dataDir: data, archive, target, paths: [src], logger });
      expect(readFileSync(join(target, "src", "photo1499.jpg"), "utf8")).toBe("the file already there");
      const restored = readdirSync(join(target, "src")).filter((n) => n !== "photo1499.jpg");
      expect(restored.filter((n) => n.endsWith(".tmp"))).toEqual([]);
      expect(r.files).toBe(restored.length);
      expect(r.files).toBeGreaterThan(0);
      expect(r.files).toBeLessThan(1500);
      expect(r.files + r.errors).toBe(1500);
      for (const n of restored) expect(readFileSync(join(target, "src", n)).equals(readFileSync(join(src, n)))).toBe(true);
      expect(new Set(r.errorList.map((e) => e.code))).toEqual(new Set(["TARGET_FULL"]));
      // the batches after the one that hit the full disk were never fetched
      expect(r.errorList.some((e) => e.message.startsWith("not restored"))).toBe(true);
    },
    120_000,
  );
});

describe("a restore of names at the 255-byte limit", () => {
  let tn: TestNode;
  let archive: TestArchive;
  const work = mkdtempSync(join(tmpdir(), "cairn-e2e-restore-names-"));
  const src = join(work, "src");
  const data = join(work, "agent");
  // 85 CJK characters: 85 characters, 255 bytes of UTF-8
  const longName = "日".repeat(85);
  beforeAll(async () => {
    tn = await startTestNode();
    archive = await tn.newArchive();
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, longName), "a name as long as the file system allows\n");
    symlinkSync(longName, join(src, "鏈".repeat(85)));
    const r = await runBackup({ dataDir: data, archives: [archive], selection: { include: [src], exclude: [], excludePatterns: [] }, logger });
    expect(r.errors).toBe(0);
  }, 60_000);
  afterAll(async () => {
    await tn?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("restores the file and the link (their temp names stay under 255 bytes), and renames next to an existing one", async () => {
    const out = join(work, "out");
    const r = await runRestore({ dataDir: data, archive, target: out, paths: [src], logger });
    expect(r.errorList).toEqual([]);
    expect(readFileSync(join(out, "src", longName), "utf8")).toBe("a name as long as the file system allows\n");
    expect(lstatSync(join(out, "src", "鏈".repeat(85))).isSymbolicLink()).toBe(true);
    const again = await runRestore({ dataDir: data, archive, target: out, paths: [src], existing: "rename", logger });
    expect(again.errorList).toEqual([]);
    const names = readdirSync(join(out, "src"));
    const renamed = names.find((n) => n.startsWith("日") && n.includes("(original)")) as string;
    expect(Buffer.byteLength(renamed)).toBeLessThanOrEqual(255);
    expect(readFileSync(join(out, "src", renamed), "utf8")).toBe("a name as long as the file system allows\n");
  }, 60_000);
});
