/**
 * Benchmark: effective settings of an organization 12 levels deep in a tree of 10,000
 * organizations (issue 5: under 1 ms). Measures the pure resolver on a loaded chain, and the
 * full read (chain from the org's path, layers from SQLite, resolve) as the API does it.
 *
 *   npm run bench:settings -w authority        (after `npx tsc -b`)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock } from "@cairn/protocol";
import { openSqliteStore } from "../dist/db/sqlite-store.js";
import { ancestorIds } from "../dist/orgs/org-tree.js";
import { resolveSettings } from "../dist/settings/resolve.js";
import { defaultSettings } from "../dist/settings/schema.js";

const ORGS = 10_000;
const DEPTH = 12;
const dir = mkdtempSync(join(tmpdir(), "cairn-bench-"));
const store = openSqliteStore({ file: join(dir, "bench.db"), clock: new ManualClock() });
const D = defaultSettings();
let n = 0;
const org = (name, parentId) => {
  n++;
  const u = `1${String(n).padStart(17, "0")}`;
  return {
    orgUid: u,
    orgGuid: `2${u.slice(1)}`,
    parentId,
    name,
    extRef: null,
    notes: null,
    registrationKey: `K-${u}`,
    registrationKeyHash: `h${u}`,
    createdAt: 1,
  };
};

// A chain 12 deep, then the other orgs spread under random existing orgs; about a third of all
// orgs override a group, a few lock keys.
const deep = await store.transaction(async (tx) => {
  const all = [];
  let parent = await tx.insertOrg(org("root", null));
  all.push(parent);
  for (let d = 1; d < DEPTH; d++) {
    parent = await tx.insertOrg(org(`level ${d}`, parent.orgId));
    all.push(parent);
  }
  const leaf = parent;
  while (all.length < ORGS) {
    const p = all[Math.floor(Math.random() * all.length)];
    all.push(await tx.insertOrg(org(`org ${all.length}`, p.orgId)));
  }
  for (const o of all) {
    const r = Math.random();
    if (r < 0.12) await tx.putSettingsGroup(o.orgId, "quota", { ...D.quota, archiveHoldDays: 1 + Math.floor(Math.random() * 400) }, 1);
    else if (r < 0.24) await tx.putSettingsGroup(o.orgId, "device", { ...D.device, frequencyMs: 60_000 * (1 + Math.floor(Math.random() * 60)) }, 1);
    else if (r < 0.3) await tx.putSettingsPacket(o.orgId, "packets.device_webRestore_enabled", "false", 1);
    if (r > 0.97) await tx.setSettingsLock(o.orgId, "quota.webRestoreUserLimitMb", true, 1);
  }
  // every level of the deep chain stores something
  for (const o of all.slice(0, DEPTH)) await tx.putSettingsGroup(o.orgId, "reporting", { ...D.reporting, warnInDays: 2 + o.depth }, 1);
  return leaf;
});

function time(label, iterations, fn) {
  for (let i = 0; i < Math.min(200, iterations); i++) fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  const perOpMs = Number(process.hrtime.bigint() - t0) / 1e6 / iterations;
  return { label, iterations, perOpMs: Number(perOpMs.toFixed(4)) };
}

const layers = await store.getSettingsLayers(ancestorIds(deep.path));
const pure = time("resolve a loaded 12-level chain", 20_000, () => resolveSettings(layers));

// The full read, as the API does it: org by id, its chain's layers, resolve.
const iterations = 5_000;
await Promise.resolve();
const t0 = process.hrtime.bigint();
for (let i = 0; i < iterations; i++) {
  const o = await store.getOrg(deep.orgId);
  resolveSettings(await store.getSettingsLayers(ancestorIds(o.path)));
}
const full = {
  label: "load from SQLite and resolve (12 levels, 10,000 orgs)",
  iterations,
  perOpMs: Number((Number(process.hrtime.bigint() - t0) / 1e6 / iterations).toFixed(4)),
};

const result = { orgs: ORGS, depth: deep.depth + 1, pure, full, target: "under 1 ms", pass: full.perOpMs < 1 };
console.log(JSON.stringify(result, null, 2));
await store.close();
rmSync(dir, { recursive: true, force: true });
