/**
 * Counts and backup figures of orgs (incCounts, the CSV export): users and devices, archive
 * totals, and warning / critical counts from days since each active device's last completed
 * backup against the org's reporting thresholds (DECISIONS.md: warnInDays / alertInDays).
 */
import { DAY_MS } from "@cairn/protocol";
import type { CoreDeps } from "../core.js";
import type { Org, OrgCounts, OrgUsage } from "../db/records.js";
import type { OrgFigures } from "./org-view.js";

/** Counts, usage and alert counts of each org. */
export interface OrgFigureSet {
  counts: Map<number, OrgCounts>;
  usage: Map<number, OrgUsage>;
  figures: Map<number, OrgFigures>;
}

/** Loads the figures of `orgs` (batch queries). */
export async function loadOrgFigures(d: CoreDeps, orgs: readonly Org[]): Promise<OrgFigureSet> {
  const ids = orgs.map((o) => o.orgId);
  const [counts, usage, ages, settings] = await Promise.all([
    d.store.orgCounts(ids),
    d.store.orgUsage(ids),
    d.store.deviceBackupAges(ids),
    d.settings.resolveMany(orgs),
  ]);
  const now = d.clock.now();
  const alerts = new Map<number, { warning: number; critical: number }>(ids.map((id) => [id, { warning: 0, critical: 0 }]));
  for (const a of ages) {
    const r = settings.get(a.orgId)?.values.reporting;
    const counter = alerts.get(a.orgId);
    if (r === undefined || counter === undefined) continue;
    const idle = now - (a.lastCompletedBackupAt ?? a.createdAt);
    if (idle > r.alertInDays * DAY_MS) counter.critical++;
    else if (idle > r.warnInDays * DAY_MS) counter.warning++;
  }
  const figures = new Map<number, OrgFigures>();
  for (const id of ids) {
    const u = usage.get(id);
    const al = alerts.get(id);
    figures.set(id, {
      selectedFiles: u?.selectedFiles ?? 0,
      selectedBytes: u?.selectedBytes ?? 0,
      todoFiles: u?.todoFiles ?? 0,
      todoBytes: u?.todoBytes ?? 0,
      archiveBytes: u?.archiveBytes ?? 0,
      warningCount: al?.warning ?? 0,
      criticalCount: al?.critical ?? 0,
    });
  }
  return { counts, usage, figures };
}
