/**
 * Real-time change watching, the only module that imports chokidar. Events for selected paths
 * are coalesced into a set of dirty paths (many writes to one file are one entry) that the
 * scheduler drains at most once per backup-frequency interval; nothing is read here.
 */
import { type FSWatcher, watch } from "chokidar";
import type { Selection } from "../selection.js";

/** Watches the selection's roots. */
export class ChangeWatcher {
  private watcher: FSWatcher | null = null;
  private dirty = new Set<string>();
  private ready: Promise<void> = Promise.resolve();

  /** (Re)starts watching `selection`. */
  async watch(selection: Selection): Promise<void> {
    await this.close();
    const roots = [...selection.roots()];
    if (roots.length === 0) return;
    const w = watch(roots, {
      ignoreInitial: true,
      followSymlinks: false,
      persistent: true,
      ignored: (p: string, st?: { isDirectory(): boolean }) => selection.covers(p) && !selection.includes(p, st?.isDirectory() ?? false),
    });
    w.on("all", (_event: string, path: string) => {
      this.dirty.add(path);
    });
    this.watcher = w;
    this.ready = new Promise<void>((r) => w.once("ready", () => r()));
    await this.ready;
  }

  /** Paths changed since the last drain. */
  get pending(): number {
    return this.dirty.size;
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
