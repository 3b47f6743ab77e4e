/**
 * The change watcher: a selected folder that vanishes and comes back (renamed away and back, a
 * drive unmounted and mounted) is watched again, and the next backup scans it whole. chokidar
 * itself stops watching a removed root without an error.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ChangeWatcher, ROOT_POLL_MS } from "../src/daemon/watcher.js";
import { Selection } from "../src/selection.js";

const dirs: string[] = [];
const watchers: ChangeWatcher[] = [];
afterEach(async () => {
  for (const w of watchers.splice(0)) await w.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function until(check: () => boolean, ms: number): Promise<void> {
  for (let waited = 0; !check() && waited < ms; waited += 50) await new Promise((r) => setTimeout(r, 50));
}

describe("ChangeWatcher", () => {
  it("watches a selected root again after it was renamed away and back, and asks for a full scan", async () => {
    const base = mkdtempSync(join(tmpdir(), "cairn-watch-"));
    dirs.push(base);
    const root = join(base, "home");
    mkdirSync(join(root, "docs"), { recursive: true });
    writeFileSync(join(root, "docs", "y.txt"), "one\n");
    const w = new ChangeWatcher();
    watchers.push(w);
    await w.watch(new Selection({ include: [`${root}/`], exclude: [], excludePatterns: [] }));
    writeFileSync(join(root, "docs", "y.txt"), "two\n");
    await until(() => w.pending > 0, 5000);
    expect(w.drain()).toContain(join(root, "docs", "y.txt"));
    expect(w.lost).toBe(false);

    renameSync(root, `${root}.away`);
    await until(() => w.lost, 5000);
    expect(w.lost).toBe(true);
    renameSync(`${root}.away`, root);
    // the daemon's next backup is a full scan, and clears the mark
    w.lost = false;
    await until(() => w.lost, ROOT_POLL_MS * 3);
    expect(w.lost, "the root's return asks for a full scan too").toBe(true);
    w.drain();
    // and changes in it are seen again, once chokidar has set the root up again (it says nothing
    // when that is done: what happened meanwhile is what the full scan asked for covers)
    for (let i = 0; i < 40 && w.pending < 2; i++) {
      writeFileSync(join(root, "docs", "y.txt"), `three ${i}\n`);
      writeFileSync(join(root, "new.txt"), `new ${i}\n`);
      await until(() => w.pending >= 2, 250);
    }
    expect(w.drain()).toEqual(expect.arrayContaining([join(root, "docs", "y.txt"), join(root, "new.txt")]));
  }, 30_000);
});
