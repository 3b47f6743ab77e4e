/**
 * Real-time change watching, the only module that imports chokidar. Events for selected paths
 * are coalesced into a set of dirty paths (many writes to one file are one entry) that the
 * scheduler drains at most once per backup-frequency interval; nothing is read here.
 *
 * Only the paths matter, not the event kinds, so chokidar's atomic-write folding (which holds
 * every `unlink` back 100 ms to see whether an `add` follows) is off: a deletion is dirty at once.
 * A watcher error (an inotify limit reached, a root that vanished) means events may have been
 * missed: {@link ChangeWatcher.lost} is set and the next backup scans everything.
 */
import { type FSWatcher, watch } from "chokidar";
import type { Selection } from "../selection.js";

/** Watches the selection's roots. */
export class ChangeWatcher {
  private watcher: FSWatcher | null = null;
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
    w.on("all", (_event: string, path: string) => {
      this.dirty.add(path);
      this.lastEventAt = performance.now();
    });
    w.on("error", () => {
      this.lost = true;
    });
    this.watcher = w;
    this.ready = new Promise<void>((r) => w.once("ready", () => r()));
    await this.ready;
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
    if (w) await w.close();
  }
}
