/**
 * Real-time change watching, the only module that imports chokidar. Events for selected paths
 * are coalesced into a set of dirty paths (many writes to one file are one entry) that the
 * scheduler drains at most once per backup-frequency interval; nothing is read here.
 *
 * Only the paths matter, not the event kinds, so chokidar's atomic-write folding (which holds
 * every `unlink` back 100 ms to see whether an `add` follows) is off: a deletion is dirty at once.
 * A watcher error (an inotify limit reached) means events may have been missed:
 * {@link ChangeWatcher.lost} is set and the next backup scans everything. A selected root that
 * vanishes (renamed away, a drive unmounted) is not an error to chokidar: it stops watching it
 * without a word. So a root's own removal sets `lost` too, and the root is looked for every
 * {@link ROOT_POLL_MS} until it is back, then watched again (and `lost` set once more: what came
 * back is scanned whole).
 */
import { existsSync } from "node:fs";
import { type FSWatcher, watch } from "chokidar";
import type { Selection } from "../selection.js";

/** How often a vanished root is looked for. */
export const ROOT_POLL_MS = 2000;

/** Watches the selection's roots. */
export class ChangeWatcher {
  private watcher: FSWatcher | null = null;
  private gone = new Set<string>();
  private poll: NodeJS.Timeout | null = null;
  private dirty = new Set<string>();
  private ready: Promise<void> = Promise.resolve();
  private lastEventAt = 0;
  /** Events may have been missed since the last full scan (a watcher error): only a full scan is safe. */
  lost = false;

  /** (Re)starts watching `selection`. */
  async watch(selection: Selection): Promise<void> {
    await this.close();
    const roots = [...selection.roots()];
    if (roots.length === 0) return;
    const w = watch(roots, {
      ignoreInitial: true,
      followSymlinks: false,
      persistent: true,
      atomic: false,
      ignored: (p: string, st?: { isDirectory(): boolean }) => selection.covers(p) && !selection.includes(p, st?.isDirectory() ?? false),
    });
    const rootSet = new Set(roots.map((r) => r.replace(/\/+$/, "") || "/"));
    w.on("all", (event: string, path: string) => {
      this.dirty.add(path);
      this.lastEventAt = performance.now();
      if ((event === "unlinkDir" || event === "unlink") && rootSet.has(path)) this.rootGone(w, path);
    });
    w.on("error", () => {
      this.lost = true;
    });
    this.watcher = w;
    this.ready = new Promise<void>((r) => w.once("ready", () => r()));
    await this.ready;
  }

  private rootGone(w: FSWatcher, root: string): void {
    this.lost = true;
    this.gone.add(root);
    if (this.poll !== null) return;
    this.poll = setInterval(() => {
      for (const r of [...this.gone]) {
        if (!existsSync(r) || this.watcher !== w) continue;
        this.gone.delete(r);
        w.unwatch(r);
        w.add(r);
        this.lost = true;
      }
      if (this.gone.size === 0 || this.watcher !== w) this.stopPoll();
    }, ROOT_POLL_MS);
    this.poll.unref();
  }

  private stopPoll(): void {
    if (this.poll !== null) clearInterval(this.poll);
    this.poll = null;
    this.gone.clear();
  }

  /** Whether a watcher is running. */
  get active(): boolean {
    return this.watcher !== null;
  }

  /** Paths changed since the last drain. */
  get pending(): number {
    return this.dirty.size;
  }

  /**
   * Lets events already on their way land (the kernel queued them, chokidar is still stat'ing):
   * resolves once no event came for `quietMs`, or after `maxMs`.
   */
  async settle(quietMs = 20, maxMs = 250): Promise<void> {
    const t0 = performance.now();
    await new Promise((r) => setImmediate(r));
    for (;;) {
      const now = performance.now();
      const wait = quietMs - (now - this.lastEventAt);
      if (wait <= 0 || now - t0 >= maxMs) return;
      await new Promise((r) => setTimeout(r, Math.min(wait, maxMs - (now - t0))));
    }
  }

  /** Takes the dirty paths. */
  drain(): string[] {
    const out = [...this.dirty];
    this.dirty = new Set();
    return out;
  }

  /** Puts paths back (a backup that failed). */
  restore(paths: readonly string[]): void {
    for (const p of paths) this.dirty.add(p);
  }

  /** Stops watching. */
  async close(): Promise<void> {
    const w = this.watcher;
    this.watcher = null;
    this.stopPoll();
    if (w) await w.close();
  }
}
