import { describe, expect, it } from "vitest";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "../src/clock.js";
import type { RetentionPolicy } from "../src/messages/common.js";
import { DEFAULT_RETENTION, type RetainedVersion, versionsToKeep } from "../src/retention.js";

const now = Date.UTC(2026, 5, 1);
const v = (seq: number, ageMs: number, deleted = false): RetainedVersion => ({ seq, time: now - ageMs, deleted });

describe("retention (frequency and versions)", () => {
  const cases: { name: string; versions: RetainedVersion[]; policy?: RetentionPolicy; keep: number[] }[] = [
    { name: "no versions", versions: [], keep: [] },
    { name: "a single old version is always kept", versions: [v(1, 900 * DAY_MS)], keep: [1] },
    {
      name: "last week: one per 15 minutes (newest of each slot)",
      // now is midnight: 22:44 (slot 22:30), 22:49 and 22:58 (slot 22:45: the newest wins), 23:01
      versions: [v(1, HOUR_MS + 16 * MINUTE_MS), v(2, HOUR_MS + 11 * MINUTE_MS), v(3, HOUR_MS + 2 * MINUTE_MS), v(4, 59 * MINUTE_MS)],
      keep: [1, 3, 4],
    },
    {
      name: "between a week and 90 days: one per day",
      versions: [v(1, 10 * DAY_MS + 3 * HOUR_MS), v(2, 10 * DAY_MS + HOUR_MS), v(3, 20 * DAY_MS), v(4, 0)],
      keep: [2, 3, 4],
    },
    {
      name: "beyond a year: one per 30 days",
      versions: [v(1, 500 * DAY_MS), v(2, 501 * DAY_MS), v(3, 560 * DAY_MS), v(4, 0)],
      keep: [1, 3, 4],
    },
    {
      name: "deleted files kept forever by default",
      versions: [v(1, 400 * DAY_MS), v(2, 300 * DAY_MS, true)],
      keep: [1, 2],
    },
    {
      name: "deleted files forgotten after deletedRetentionMs",
      versions: [v(1, 40 * DAY_MS), v(2, 31 * DAY_MS, true)],
      policy: { ...DEFAULT_RETENTION, deletedRetentionMs: 30 * DAY_MS },
      keep: [],
    },
    {
      name: "a file deleted recently keeps its history",
      versions: [v(1, 40 * DAY_MS), v(2, 1 * DAY_MS, true)],
      policy: { ...DEFAULT_RETENTION, deletedRetentionMs: 30 * DAY_MS },
      keep: [1, 2],
    },
    {
      name: "spacing 0 keeps every version",
      versions: [v(1, 3 * MINUTE_MS), v(2, 2 * MINUTE_MS), v(3, MINUTE_MS)],
      policy: { bands: [{ untilAgeMs: -1, spacingMs: 0 }], deletedRetentionMs: -1 },
      keep: [1, 2, 3],
    },
  ];
  it.each(cases)("$name", ({ versions, policy, keep }) => {
    expect([...versionsToKeep(versions, policy ?? DEFAULT_RETENTION, now)].sort((a, b) => a - b)).toEqual(keep);
  });

  it("is stable: a version kept today is still kept an hour later unless it changed band", () => {
    const versions = Array.from({ length: 200 }, (_, i) => v(i + 1, i * 7 * MINUTE_MS));
    const k1 = versionsToKeep(versions, DEFAULT_RETENTION, now);
    const later = versionsToKeep(versions, DEFAULT_RETENTION, now + HOUR_MS);
    for (const s of later) expect(k1.has(s)).toBe(true);
  });
});
