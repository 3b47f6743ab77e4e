/**
 * Keeps the running storage nodes' archive placements (`update-archive`) in step with what
 * decides them after the change committed: an org's settings (retention, quotas), inherited
 * ones when an org moves under another parent, a user's move or own quota, the cold state a
 * user's or org's deactivation and reactivation set (`users-changed` with the archives'
 * owners), a device's own settings, and who is on active legal hold (a custodian's archives keep every version,
 * placements.ts). It listens to the authority's events (events.ts), never inside a request:
 * changes are queued, coalesced for {@link PlacementSyncOptions.delayMs}, resolved to the
 * archives concerned (an org's whole subtree, a user's or device's archives) and pushed in
 * batches, yielding between them, so an org of thousands of devices costs its request nothing
 * and the event loop stays free. A failed push is logged and not retried: a node that was away
 * gets every placement again with its next `announce`.
 */
import type { CoreDeps } from "../core.js";
import type { ArchiveRecord } from "../db/device-records.js";
import type { OrgScope } from "../db/store.js";
import { isInSubtree } from "../orgs/org-tree.js";

/** Tuning of {@link PlacementSync}. */
export interface PlacementSyncOptions {
  /** How long changes are coalesced before a push (ms; default 250). */
  delayMs?: number;
  /** Archives per push batch (default 200). */
  batchSize?: number;
}

const PAGE = 1000;

/**
 * Whether a `settings-changed` with these keys can change a placement: the device group (its
 * retention) or the quota group (`defaultUserMaxBytes`, …). Unknown (absent) keys: it can.
 */
export function affectsPlacements(keys: readonly string[] | undefined): boolean {
  if (keys === undefined) return true;
  return keys.some((k) => k === "device" || k === "quota" || k.startsWith("device.retention") || k.startsWith("quota."));
}

/** Ancestor paths only: a path inside another one of the list is covered by it. */
function topmost(paths: readonly string[]): string[] {
  const unique = [...new Set(paths)];
  return unique.filter((p) => !unique.some((q) => q !== p && isInSubtree(p, q)));
}

const take = (s: Set<number>): number[] => {
  const out = [...s];
  s.clear();
  return out;
};

const yieldLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Pushes the placements of archives whose inputs changed. */
export class PlacementSync {
  private readonly orgIds = new Set<number>();
  private readonly userIds = new Set<number>();
  private readonly deviceIds = new Set<number>();
  private readonly delayMs: number;
  private readonly batchSize: number;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();
  private offs: (() => void)[] = [];
  private stopped = true;

  constructor(
    private readonly d: CoreDeps,
    private readonly push: (archives: readonly ArchiveRecord[]) => Promise<void>,
    o: PlacementSyncOptions = {},
  ) {
    this.delayMs = o.delayMs ?? 250;
    this.batchSize = Math.max(1, o.batchSize ?? 200);
  }

  /** Subscribes to the events (the control channels do, when the server starts). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const ev = this.d.events;
    this.offs = [
      ev.on("settings-changed", ({ orgIds, keys }) => {
        if (affectsPlacements(keys)) this.queue(this.orgIds, orgIds);
      }),
      ev.on("users-moved", ({ userIds }) => this.queue(this.userIds, userIds)),
      ev.on("users-changed", ({ userIds }) => this.queue(this.userIds, userIds)),
      ev.on("holds-changed", ({ userIds }) => this.queue(this.userIds, userIds)),
      ev.on("devices-changed", ({ deviceIds }) => this.queue(this.deviceIds, deviceIds)),
    ];
  }

  /** Unsubscribes, drops what is queued and waits for a running push to stop at its next batch. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const off of this.offs) off();
    this.offs = [];
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.orgIds.clear();
    this.userIds.clear();
    this.deviceIds.clear();
    await this.running;
  }

  /** Pushes what is queued now and resolves once nothing is queued or running (tests, tools). */
  async idle(): Promise<void> {
    for (;;) {
      if (this.timer !== null) {
        clearTimeout(this.timer);
        this.timer = null;
        this.flush();
      }
      const running = this.running;
      await running;
      if (this.timer === null && running === this.running) return;
    }
  }

  private queue(into: Set<number>, ids: readonly number[]): void {
    if (this.stopped || ids.length === 0) return;
    for (const id of ids) into.add(id);
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, this.delayMs);
    this.timer.unref();
  }

  /** Runs one drain after the current one (drains never overlap). */
  private flush(): void {
    this.running = this.running.then(() =>
      this.drain().catch((err: unknown) => this.d.log.warn({ err }, "placements not pushed to storage nodes; they re-sync at their next announce")),
    );
  }

  private async drain(): Promise<void> {
    const orgIds = take(this.orgIds);
    const userIds = take(this.userIds);
    const deviceIds = take(this.deviceIds);
    if (orgIds.length + userIds.length + deviceIds.length === 0) return;
    const archives = new Map<string, ArchiveRecord>();
    const add = (list: readonly ArchiveRecord[]) => {
      for (const a of list) if (a.serverId !== null) archives.set(a.archiveGuid, a);
    };
    const orgs = await this.d.store.getOrgs(orgIds);
    for (const path of topmost(orgs.map((o) => o.path))) await this.listAll({ kind: "subtree", path }, {}, add);
    for (const userId of userIds) await this.listAll({ kind: "all" }, { userId }, add);
    for (let i = 0; i < deviceIds.length; i += PAGE) add(await this.d.store.archivesOfDevices(deviceIds.slice(i, i + PAGE)));
    const list = [...archives.values()];
    for (let i = 0; i < list.length; i += this.batchSize) {
      if (this.stopped) return;
      await this.push(list.slice(i, i + this.batchSize));
      await yieldLoop();
    }
    if (list.length > 0)
      this.d.log.info({ archives: list.length, orgs: orgIds.length, users: userIds.length, devices: deviceIds.length }, "archive placements pushed");
  }

  private async listAll(scope: OrgScope, f: { userId?: number }, add: (list: readonly ArchiveRecord[]) => void): Promise<void> {
    for (let offset = 0; ; offset += PAGE) {
      if (this.stopped) return;
      const page = await this.d.store.listArchives({ scope, ...f }, { offset, limit: PAGE });
      add(page.items);
      if (page.items.length < PAGE) return;
    }
  }
}
