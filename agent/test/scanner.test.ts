import { chmodSync, mkdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Scanner } from "../src/scan/scanner.js";
import { Selection } from "../src/selection.js";
import { openAgentDb } from "../src/state/agent-db.js";
import { FileCache, KIND, type PendingEntry } from "../src/state/file-cache.js";
import { tempDir } from "./helpers.js";

function commitAll(cache: FileCache, changed: ReturnType<Scanner["full"]>): void {
  const pending: PendingEntry[] = changed.changed.map((e) => ({ ...e, deleted: false, blocks: null, fileId: Buffer.alloc(16), meta: null }));
  for (const d of changed.deleted)
    pending.push({
      path: d.path,
      deleted: true,
      kind: d.kind,
      size: 0,
      mtime: 0,
      ctime: 0,
      ino: 0,
      mode: 0,
      blocks: null,
      fileId: Buffer.alloc(16),
      meta: null,
    });
  cache.addPending(pending);
  cache.applyPending();
}

describe("scanner and file cache", () => {
  let t: ReturnType<typeof tempDir>;
  let root: string;
  let cache: FileCache;
  beforeEach(() => {
    t = tempDir();
    root = join(t.dir, "tree");
    mkdirSync(join(root, "a/b/c"), { recursive: true });
    writeFileSync(join(root, "a/one.txt"), "one");
    writeFileSync(join(root, "a/b/two.txt"), "two");
    writeFileSync(join(root, "a/b/c/three.txt"), "three");
    writeFileSync(join(root, "empty"), "");
    symlinkSync("a/one.txt", join(root, "link"));
    const db = openAgentDb(t.dir);
    cache = new FileCache(db, "111111111111111111");
  });
  afterEach(() => t.cleanup());

  it("a large tree is handed over in bounded batches, the walk resuming where it stopped", () => {
    for (let d = 0; d < 3; d++) {
      mkdirSync(join(root, `many${d}`));
      for (let i = 0; i < 400; i++) writeFileSync(join(root, `many${d}`, `f${i}`), "x");
    }
    const sel = new Selection({ include: [root], exclude: [], excludePatterns: [] });
    const sc = new Scanner(cache, sel);
    const gen = sc.fullBatches(100);
    const sizes: number[] = [];
    let stats = null;
    for (let n = gen.next(); ; n = gen.next()) {
      if (n.done) {
        stats = n.value;
        break;
      }
      sizes.push(n.value.changed.length + n.value.deleted.length);
      // a paused walk holds one batch: nothing more was statted than what it handed over so far (plus a directory)
      expect(sc.stats.statted).toBeLessThanOrEqual(sizes.reduce((a, b) => a + b, 0) + 2);
    }
    expect(Math.max(...sizes)).toBeLessThanOrEqual(100);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(9 + 3 + 1200);
    expect(stats.selectedFiles).toBe(4 + 1200);
  });

  it("a file whose name is not UTF-8 is reported as an error, not left out silently", () => {
    // Linux names are bytes: 0xff 0xfe is no UTF-8, so the decoded name (with U+FFFD) names no file
    writeFileSync(Buffer.from(`${join(root, "a")}/bad\xff\xfename.txt`, "latin1"), "x");
    writeFileSync(join(root, "a", "fine \uFFFD.txt"), "a real U+FFFD in a valid name");
    const sel = new Selection({ include: [root], exclude: [], excludePatterns: [] });
    const r = new Scanner(cache, sel).full();
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ code: "EILSEQ", path: join(root, "a", "bad\uFFFD\uFFFDname.txt") });
    expect(r.changed.map((e) => e.path)).toContain(join(root, "a", "fine \uFFFD.txt"));
    expect(r.stats.selectedFiles).toBe(5);
    // an excluded one is no error (the backup stays complete)
    const excluded = new Selection({ include: [root], exclude: [], excludePatterns: ["\\.txt$"] });
    expect(new Scanner(cache, excluded).full().errors).toEqual([]);
  });

  it("a first scan finds everything; an unchanged tree finds nothing and reads no content", () => {
    const sel = new Selection({ include: [root], exclude: [], excludePatterns: [] });
    const first = new Scanner(cache, sel).full();
    expect(first.changed.map((e) => e.path.slice(root.length)).sort()).toEqual(
      ["", "/a", "/a/b", "/a/b/c", "/a/b/c/three.txt", "/a/b/two.txt", "/a/one.txt", "/empty", "/link"].sort(),
    );
    expect(first.stats.selectedFiles).toBe(4);
    expect(first.stats.selectedBytes).toBe(11);
    commitAll(cache, first);
    const second = new Scanner(cache, sel).full();
    expect(second.changed).toEqual([]);
    expect(second.deleted).toEqual([]);
    expect(second.stats.todoFiles).toBe(0);
    expect(second.stats.selectedFiles).toBe(4);
  });

  it("a selected folder that is missing is an error, not a deletion of all it held; a selected file deleted is a deletion", () => {
    const file = join(t.dir, "single.txt");
    writeFileSync(file, "one file selected on its own");
    const sel = new Selection({ include: [root, file], exclude: [], excludePatterns: [] });
    commitAll(cache, new Scanner(cache, sel).full());
    rmSync(root, { recursive: true });
    rmSync(file);
    // the watcher names the folder's children too when it goes
    const named = [join(root, "a/b/two.txt"), root, join(root, "a/b/c"), file];
    for (const [r, deleted] of [
      [new Scanner(cache, sel).full(), [file]],
      [new Scanner(cache, sel).paths(named), [file]],
      [new Scanner(cache, sel).paths([join(root, "a/one.txt")]), []],
    ] as const) {
      expect(r.errors).toEqual([expect.objectContaining({ path: root, code: "ENOENT", message: expect.stringContaining("missing") })]);
      expect(r.deleted.map((d) => d.path)).toEqual(deleted);
    }
    // back again (the drive mounted): nothing changed, nothing to upload
    mkdirSync(join(root, "a/b/c"), { recursive: true });
    expect(new Scanner(cache, sel).full().errors).toEqual([]);
  });

  it("finds edits, mode changes, additions and deletions (with descendants)", () => {
    const sel = new Selection({ include: [root], exclude: [], excludePatterns: [] });
    commitAll(cache, new Scanner(cache, sel).full());
    writeFileSync(join(root, "a/b/two.txt"), "TWO!");
    chmodSync(join(root, "a/one.txt"), 0o600);
    writeFileSync(join(root, "new.txt"), "n");
    rmSync(join(root, "a/b/c"), { recursive: true });
    const r = new Scanner(cache, sel).full();
    const changed = r.changed
      .filter((e) => e.kind === KIND.FILE)
      .map((e) => e.path.slice(root.length))
      .sort();
    expect(changed).toEqual(["/a/b/two.txt", "/a/one.txt", "/new.txt"]);
    expect(r.deleted.map((d) => d.path.slice(root.length)).sort()).toEqual(["/a/b/c", "/a/b/c/three.txt"]);
  });

  it("an excluded subtree is reported deleted; an unreadable directory keeps its cached children", () => {
    const sel = new Selection({ include: [root], exclude: [], excludePatterns: [] });
    commitAll(cache, new Scanner(cache, sel).full());
    const r1 = new Scanner(cache, new Selection({ include: [root], exclude: [join(root, "a/b")], excludePatterns: [] })).full();
    expect(r1.deleted.map((d) => d.path.slice(root.length)).sort()).toEqual(["/a/b", "/a/b/c", "/a/b/c/three.txt", "/a/b/two.txt"]);
    if (process.getuid?.() !== 0) {
      chmodSync(join(root, "a/b"), 0o000);
      const r2 = new Scanner(cache, sel).full();
      chmodSync(join(root, "a/b"), 0o755);
      expect(r2.errors.map((e) => e.path)).toEqual([join(root, "a/b")]);
      expect(r2.deleted).toEqual([]);
    }
  });

  it("a paths scan looks only at the given paths", () => {
    const sel = new Selection({ include: [root], exclude: [], excludePatterns: [] });
    commitAll(cache, new Scanner(cache, sel).full());
    writeFileSync(join(root, "a/b/c/three.txt"), "THREE");
    utimesSync(join(root, "a/b/c/three.txt"), new Date(2020, 1, 1), new Date(2020, 1, 1));
    writeFileSync(join(root, "a/one.txt"), "changed but not reported");
    const r = new Scanner(cache, sel).paths([join(root, "a/b/c/three.txt")]);
    expect(r.changed.map((e) => e.path)).toEqual([join(root, "a/b/c/three.txt")]);
    expect(r.stats.statted).toBe(1);
  });

  it("a paths scan handles each path once: a new folder and the files in it, both named by the watcher, count once", () => {
    const sel = new Selection({ include: [root], exclude: [], excludePatterns: [] });
    commitAll(cache, new Scanner(cache, sel).full());
    const big = join(root, "big");
    mkdirSync(big);
    for (const n of ["r1.bin", "r2.bin", "r3.bin"]) writeFileSync(join(big, n), Buffer.alloc(1000, 1));
    const files = ["r1.bin", "r2.bin", "r3.bin"].map((n) => join(big, n));
    // the watcher saw the folder appear and each file in it (in either order), some twice
    for (const order of [
      [big, ...files, files[0] as string],
      [...files, big, big],
    ]) {
      const r = new Scanner(cache, sel).paths(order);
      expect(r.changed.map((e) => e.path).sort()).toEqual([big, ...files].sort());
      expect(r.stats.todoFiles).toBe(3);
      expect(r.stats.todoBytes).toBe(3000);
    }
    // a deleted folder and its files, both named: each deletion once
    commitAll(cache, new Scanner(cache, sel).paths([big]));
    rmSync(big, { recursive: true });
    const gone = new Scanner(cache, sel).paths([big, ...files]);
    expect(gone.deleted.map((d) => d.path).sort()).toEqual([big, ...files].sort());
  });
});
