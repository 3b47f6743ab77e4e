import { describe, expect, it } from "vitest";
import { DAY_MS, DEFAULT_RETENTION, MINUTE_MS, type RetentionPolicy, versionsToKeep } from "@cairn/protocol";

// The node applies the protocol's pure policy (protocol/src/retention.ts); these tables pin down
// what maintenance keeps with the source platform's defaults and with custom policies.
const NOW = Date.UTC(2026, 5, 1);
const at = (ageMs: number, seq: number, deleted = false) => ({ seq, time: NOW - ageMs, deleted });

const cases: { name: string; policy: RetentionPolicy; versions: ReturnType<typeof at>[]; keep: number[] }[] = [
  {
    name: "last week: one per 15 minutes, the newest of each quarter hour",
    policy: DEFAULT_RETENTION,
    versions: [at(1 * MINUTE_MS, 5), at(3 * MINUTE_MS, 4), at(20 * MINUTE_MS, 3), at(22 * MINUTE_MS, 2), at(6 * DAY_MS, 1)],
    keep: [5, 3, 1],
  },
  {
    name: "8 to 90 days: one per day",
    policy: DEFAULT_RETENTION,
    versions: [at(10 * DAY_MS + 1000, 3), at(10 * DAY_MS + 2000, 2), at(11 * DAY_MS + 500, 1), at(1000, 4)],
    keep: [4, 3, 1],
  },
  {
    name: "90 days to a year: one per week; older: one per 30 days",
    policy: DEFAULT_RETENTION,
    versions: [at(100 * DAY_MS, 4), at(101 * DAY_MS, 3), at(400 * DAY_MS, 2), at(401 * DAY_MS, 1), at(0, 5)],
    keep: [5, 4, 2],
  },
  {
    name: "the newest version is always kept, however old",
    policy: { bands: [{ untilAgeMs: -1, spacingMs: 365 * DAY_MS }], deletedRetentionMs: -1 },
    versions: [at(900 * DAY_MS, 2), at(900 * DAY_MS + 1, 1)],
    keep: [2],
  },
  {
    name: "deleted files are kept forever by default",
    policy: DEFAULT_RETENTION,
    versions: [at(5000 * DAY_MS, 1), at(4000 * DAY_MS, 2, true)],
    keep: [2, 1],
  },
  {
    name: "a file deleted longer ago than the deleted-file retention goes entirely",
    policy: { ...DEFAULT_RETENTION, deletedRetentionMs: 30 * DAY_MS },
    versions: [at(60 * DAY_MS, 1), at(31 * DAY_MS, 2, true)],
    keep: [],
  },
  {
    name: "a file deleted within the deleted-file retention keeps its versions",
    policy: { ...DEFAULT_RETENTION, deletedRetentionMs: 30 * DAY_MS },
    versions: [at(60 * DAY_MS, 1), at(29 * DAY_MS, 2, true)],
    keep: [2, 1],
  },
  {
    name: "spacing 0 keeps every version",
    policy: { bands: [{ untilAgeMs: -1, spacingMs: 0 }], deletedRetentionMs: -1 },
    versions: [at(1, 1), at(2, 2), at(3, 3)],
    keep: [1, 2, 3],
  },
];

describe("retention policy (versionsToKeep) as maintenance applies it", () => {
  it.each(cases)("$name", ({ policy, versions, keep }) => {
    expect([...versionsToKeep(versions, policy, NOW)].sort((a, b) => a - b)).toEqual([...keep].sort((a, b) => a - b));
  });

  it("keeps a kept version kept as time passes within its band (buckets do not shift)", () => {
    const vs = [at(2 * DAY_MS, 1), at(2 * DAY_MS + 5 * MINUTE_MS, 2), at(0, 3)];
    const first = versionsToKeep(vs, DEFAULT_RETENTION, NOW);
    const later = versionsToKeep(vs, DEFAULT_RETENTION, NOW + DAY_MS);
    for (const s of later) expect(first.has(s)).toBe(true);
  });
});
