import { createHash, randomBytes } from "node:crypto";
import {
  appendFileSync,
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  openSync,
  ftruncateSync,
  closeSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBackup, runRestore } from "@cairn/agent";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeBytesReceived, startTestNode, type TestArchive, type TestNode } from "./agent-helpers.js";
import { resizeDisk, smallDisk, unmount } from "./helpers/small-disk.js";

const logger = pino({ level: "silent" });

function treeOf(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, rel: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      const r = `${rel}/${n}`;
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out.set(r, `link ${readlinkSync(p)} ${Math.floor(st.mtimeMs)}`);
      else if (st.isDirectory()) {
        out.set(r, `dir ${(st.mode & 0o7777).toString(8)} ${Math.floor(st.mtimeMs)}`);
        walk(p, r);
      } else
        out.set(r, `file ${(st.mode & 0o7777).toString(8)} ${st.size} ${Math.floor(st.mtimeMs)} ${createHash("sha256").update(readFileSync(p)).digest("hex")}`);
    }
  };
  walk(dir, "");
  return out;
}

describe("agent backup and restore against the real storage node", () => {
  let tn: TestNode;
  let archive: TestArchive;
  const work = mkdtempSync(join(tmpdir(), "cairn-e2e-agent-"));
  const src = join(work, "src");
  const data = join(work, "agent");
  const sel = { include: [src], exclude: [], excludePatterns: [] };
  beforeAll(async () => {
    tn = await startTestNode();
    archive = await tn.newArchive();
    mkdirSync(join(src, "d1/d2/d3/d4/d5/d6/d7/d8/d9/d10"), { recursive: true });
    writeFileSync(join(src, "d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/deep.txt"), "deep\n");
    writeFileSync(join(src, "empty.txt"), "");
    writeFileSync(join(src, "ünïcødé — 文件 🗂.txt"), "unicode name\n");
    writeFileSync(join(src, "random.bin"), randomBytes(3 * 1024 * 1024));
    writeFileSync(join(src, "text.log"), "2026-01-01 INFO something happened here\n".repeat(60_000));
    writeFileSync(join(src, "script.sh"), "#!/bin/sh\n");
    chmodSync(join(src, "script.sh"), 0o755);
    writeFileSync(join(src, "private.txt"), "secret\n");
    chmodSync(join(src, "private.txt"), 0o600);
    mkdirSync(join(src, "locked-dir"));
    chmodSync(join(src, "locked-dir"), 0o700);
    symlinkSync("text.log", join(src, "rel-link"));
    symlinkSync("/nonexistent/target", join(src, "dangling-link"));
    symlinkSync("/etc/passwd", join(src, "abs-link"));
    // a sparse file larger than 1 GiB with a little data in it
    const fd = openSync(join(src, "sparse.img"), "w");
    writeSync(fd, Buffer.from("head"), 0, 4, 0);
    writeSync(fd, Buffer.from("tail"), 0, 4, 1024 * 1024 * 1024 + 100);
    ftruncateSync(fd, 1024 * 1024 * 1024 + 4096);
    closeSync(fd);
  }, 60_000);
  afterAll(async () => {
    await tn?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("backs up a tree and restores every version byte for byte and mode for mode", async () => {
    const r1 = await runBackup({ dataDir: data, archives: [archive], selection: sel, logger });
    expect(r1.errors).toBe(0);
    expect(r1.files).toBe(8);
    const v1 = treeOf(src);
    writeFileSync(join(src, "text.log"), "a changed log\n".repeat(1000));
    rmSync(join(src, "private.txt"));
    writeFileSync(join(src, "new.txt"), "new file\n");
    const r2 = await runBackup({ dataDir: data, archives: [archive], selection: sel, logger });
    expect(r2.errors).toBe(0);
    const v2 = treeOf(src);
    const out1 = join(work, "restore-v1");
    const rr1 = await runRestore({ dataDir: data, archive, at: Date.parse(r1.versionTime), target: out1, paths: [src], logger });
    expect(rr1.errorList).toEqual([]);
    expect(treeOf(join(out1, "src"))).toEqual(v1);
    const out2 = join(work, "restore-v2");
    const rr2 = await runRestore({ dataDir: data, archive, target: out2, paths: [src], logger });
    expect(rr2.errors).toBe(0);
    expect(treeOf(join(out2, "src"))).toEqual(v2);
    expect(lstatSync(join(out2, "src/sparse.img")).blocks * 512).toBeLessThan(16 * 1024 * 1024);
  }, 120_000);

  it("a backup of the unchanged tree reads nothing, sends no block and commits the next version", async () => {
    const before = await nodeBytesReceived(tn.node);
    const r = await runBackup({ dataDir: data, archives: [archive], selection: sel, logger });
    expect(r.changedFiles).toBe(0);
    expect(r.uploadedBytes).toBe(0);
    expect(r.destinations[0]?.seq).toBe(3);
    expect(await nodeBytesReceived(tn.node)).toBe(before);
  }, 60_000);

  it("a selected folder that is missing (a drive not mounted) is reported, keeps its files, and the backup is not complete", async () => {
    const drive = join(work, "drive");
    const data3 = join(work, "agent-drive");
    mkdirSync(join(drive, "photos"), { recursive: true });
    mkdirSync(data3, { recursive: true });
    writeFileSync(join(drive, "photos", "a.jpg"), "jpeg bytes");
    const sel3 = { include: [drive], exclude: [], excludePatterns: [] };
    const a3 = await tn.newArchive();
    expect((await runBackup({ dataDir: data3, archives: [a3], selection: sel3, logger })).errors).toBe(0);
    renameSync(drive, `${drive}.unmounted`);
    const r = await runBackup({ dataDir: data3, archives: [a3], selection: sel3, logger });
    expect(r.errors).toBe(1);
    // incomplete: the last completed backup stays where it was, so the device's alerts tell of it
    expect(r.destinations[0]).toMatchObject({ deletedFiles: 0, complete: false });
    expect(r.destinations[0]?.errorList[0]).toMatchObject({ path: drive, code: "ENOENT", message: expect.stringContaining("missing") });
    // the newest version still holds the folder as it was
    const out = join(work, "restore-drive");
    const rr = await runRestore({ dataDir: data3, archive: a3, target: out, paths: [drive], logger });
    expect(rr.errors).toBe(0);
    expect(readFileSync(join(out, "drive", "photos", "a.jpg"), "utf8")).toBe("jpeg bytes");
  }, 60_000);

  it("a file whose name is not UTF-8 is listed (exit 3) but does not keep the backup from completing", async () => {
    const tree = join(work, "odd-names");
    const data4 = join(work, "agent-odd");
    mkdirSync(tree, { recursive: true });
    mkdirSync(data4, { recursive: true });
    writeFileSync(join(tree, "fine.txt"), "fine");
    writeFileSync(Buffer.concat([Buffer.from(`${tree}/bad`), Buffer.from([0xff, 0xfe]), Buffer.from(".txt")]), "odd");
    const r = await runBackup({ dataDir: data4, archives: [await tn.newArchive()], selection: { include: [tree], exclude: [], excludePatterns: [] }, logger });
    expect(r.errors).toBe(1);
    expect(r.destinations[0]).toMatchObject({ complete: true, errorList: [expect.objectContaining({ code: "EILSEQ" })] });
  }, 60_000);

  it("a device that lost its database records as deleted the files its last version holds and the disk does not", async () => {
    const tree = join(work, "lost-db");
    // "/cache/$" matches the directory only (tested as "…/cache/"): what is below it is never scanned
    const sel2 = { include: [tree], exclude: [join(tree, "now-excluded")], excludePatterns: ["/cache/$"] };
    const other = await tn.newArchive();
    mkdirSync(join(tree, "gone-dir/sub"), { recursive: true });
    mkdirSync(join(tree, "now-excluded"));
    writeFileSync(join(tree, "kept.txt"), "kept\n");
    writeFileSync(join(tree, "gone.txt"), "deleted while the database was lost\n");
    writeFileSync(join(tree, "gone-dir/sub/inner.txt"), "inner\n");
    writeFileSync(join(tree, "now-excluded/x.txt"), "x\n");
    mkdirSync(join(tree, "cache"));
    writeFileSync(join(tree, "cache/blob.bin"), "cached\n");
    symlinkSync("kept.txt", join(tree, "gone-link"));
    const first = join(work, "agent-lost-1");
    await runBackup({ dataDir: first, archives: [other], selection: { include: [tree], exclude: [], excludePatterns: [] }, logger });
    rmSync(first, { recursive: true, force: true });
    rmSync(join(tree, "gone.txt"));
    rmSync(join(tree, "gone-dir"), { recursive: true });
    rmSync(join(tree, "gone-link"));
    writeFileSync(join(tree, "new.txt"), "new\n");
    const again = join(work, "agent-lost-2");
    const r = await runBackup({ dataDir: again, archives: [other], selection: sel2, logger });
    expect(r.errors).toBe(0);
    expect(r.destinations[0]?.seq).toBe(2);
    const out = join(work, "restore-lost-db");
    const rr = await runRestore({ dataDir: again, archive: other, target: out, paths: [tree], logger });
    expect(rr.errors).toBe(0);
    expect([...treeOf(join(out, "lost-db")).keys()].sort()).toEqual(["/kept.txt", "/new.txt"]);
    // a third run, with the database kept, changes nothing
    const r3 = await runBackup({ dataDir: again, archives: [other], selection: sel2, logger });
    expect(r3.changedFiles).toBe(0);
  }, 60_000);
});

describe("a backup whose data folder's disk fills up", () => {
  let tn: TestNode;
  let archive: TestArchive;
  const work = mkdtempSync(join(tmpdir(), "cairn-e2e-agent-full-"));
  const src = join(work, "src");
  const disk = smallDisk(join(work, "small-disk"), "600k");
  const data = join(work, "small-disk", "agent");
  const sel = { include: [src], exclude: [], excludePatterns: [] };
  beforeAll(async () => {
    if (!disk) return;
    tn = await startTestNode();
    archive = await tn.newArchive();
    mkdirSync(src, { recursive: true });
    for (let i = 0; i < 5000; i++) writeFileSync(join(src, `a-rather-long-file-name-for-the-cache-${i}.txt`), `note ${i}\n`);
  }, 60_000);
  afterAll(async () => {
    await tn?.close();
    if (disk) unmount(disk);
    rmSync(work, { recursive: true, force: true });
  });

  // mounting a tmpfs needs root: without it there is no full disk to fill
  it.skipIf(disk === null)(
    "stops with LOCAL_DISK_FULL and releases its lock; once there is room the next backup completes and restores whole",
    async () => {
      await expect(runBackup({ dataDir: data, archives: [archive], selection: sel, logger })).rejects.toMatchObject({ code: "LOCAL_DISK_FULL" });
      expect(existsSync(join(data, "run.lock"))).toBe(false);
      resizeDisk(disk as string, "64m");
      const r = await runBackup({ dataDir: data, archives: [archive], selection: sel, logger });
      expect(r.errors).toBe(0);
      expect(r.files).toBe(5000);
      const out = join(work, "out");
      const rr = await runRestore({ dataDir: data, archive, target: out, paths: [src], logger });
      expect(rr.errorList).toEqual([]);
      expect(treeOf(join(out, "src"))).toEqual(treeOf(src));
    },
    120_000,
  );
});

describe("a backup of a file that keeps changing while it is read", () => {
  let tn: TestNode;
  let archive: TestArchive;
  const work = mkdtempSync(join(tmpdir(), "cairn-e2e-agent-busy-"));
  const src = join(work, "src");
  const data = join(work, "agent");
  beforeAll(async () => {
    tn = await startTestNode();
    archive = await tn.newArchive();
    mkdirSync(src, { recursive: true });
  }, 60_000);
  afterAll(async () => {
    await tn?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("backs up a log being written (as read, a prefix of it) instead of failing the whole backup, and reads it again next time", async () => {
    const log = join(src, "app.log");
    writeFileSync(log, "x".repeat(16 * 1024 * 1024));
    writeFileSync(join(src, "quiet.txt"), "unchanging\n");
    let n = 0;
    const writer = setInterval(() => appendFileSync(log, `line ${n++}\n`), 1);
    let r: Awaited<ReturnType<typeof runBackup>>;
    try {
      r = await runBackup({ dataDir: data, archives: [archive], selection: { include: [src], exclude: [], excludePatterns: [] }, logger });
    } finally {
      clearInterval(writer);
    }
    expect(r.errors).toBe(0);
    expect(r.destinations[0]?.complete).toBe(true);
    const out = join(work, "out");
    const rr = await runRestore({ dataDir: data, archive, target: out, paths: [src], logger });
    expect(rr.errorList).toEqual([]);
    const restored = readFileSync(join(out, "src", "app.log"));
    const now = readFileSync(log);
    expect(restored.length).toBeGreaterThanOrEqual(16 * 1024 * 1024);
    expect(now.subarray(0, restored.length).equals(restored)).toBe(true);
    // once it is quiet, the next backup takes it whole
    const again = await runBackup({ dataDir: data, archives: [archive], selection: { include: [src], exclude: [], excludePatterns: [] }, logger });
    expect(again.errors).toBe(0);
    const out2 = join(work, "out2");
    await runRestore({ dataDir: data, archive, target: out2, paths: [src], logger });
    expect(readFileSync(join(out2, "src", "app.log")).equals(now)).toBe(true);
  }, 120_000);
});
