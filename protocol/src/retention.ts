/**
 * The frequency-and-versions policy as a pure function: given one file's versions, a policy and
 * the (server) time, which versions to keep. The storage node applies it during maintenance;
 * the authority shows it. No I/O, no clock reads (time is a parameter).
 *
 * Rules (the source platform's defaults, RetentionPolicy in messages/common.ts):
 * - each version falls into the first band whose `untilAgeMs` exceeds its age (−1: no limit);
 * - within a band, versions are bucketed by absolute time (`floor(time / spacingMs)`), and the
 *   newest version of each bucket is kept (spacing 0 keeps all), so buckets do not shift as time
 *   passes and a kept version stays kept until it moves to a coarser band;
 * - the newest version of a file is always kept, unless the file was deleted longer ago than
 *   `deletedRetentionMs` (−1: never forget), in which case the whole file goes.
 */
import { DAY_MS, MINUTE_MS } from "./clock.js";
import type { RetentionPolicy } from "./messages/common.js";

/** The source platform's default policy. */
export const DEFAULT_RETENTION: RetentionPolicy = {
  bands: [
    { untilAgeMs: 7 * DAY_MS, spacingMs: 15 * MINUTE_MS },
    { untilAgeMs: 90 * DAY_MS, spacingMs: DAY_MS },
    { untilAgeMs: 365 * DAY_MS, spacingMs: 7 * DAY_MS },
    { untilAgeMs: -1, spacingMs: 30 * DAY_MS },
  ],
  deletedRetentionMs: -1,
};

/** What retention needs to know of one version. */
export interface RetainedVersion {
  seq: number;
  time: number;
  deleted: boolean;
}

/** Sequence numbers of the versions to keep, for one file's versions (any order). */
export function versionsToKeep(versions: readonly RetainedVersion[], policy: RetentionPolicy, now: number): Set<number> {
  const keep = new Set<number>();
  if (versions.length === 0) return keep;
  const sorted = [...versions].sort((a, b) => b.time - a.time || b.seq - a.seq);
  const newest = sorted[0] as RetainedVersion;
  if (newest.deleted && policy.deletedRetentionMs >= 0 && now - newest.time > policy.deletedRetentionMs) return keep;
  keep.add(newest.seq);
  const seen = new Set<string>();
  for (const v of sorted) {
    const age = Math.max(0, now - v.time);
    const bandIdx = policy.bands.findIndex((b) => b.untilAgeMs < 0 || age < b.untilAgeMs);
    const band = policy.bands[bandIdx === -1 ? policy.bands.length - 1 : bandIdx];
    if (!band) continue;
    if (band.spacingMs === 0) {
      keep.add(v.seq);
      continue;
    }
    const bucket = `${bandIdx}:${Math.floor(v.time / band.spacingMs)}`;
    if (!seen.has(bucket)) {
      seen.add(bucket);
      keep.add(v.seq);
    }
  }
  return keep;
}

/** Versions (by seq) to remove: the complement of {@link versionsToKeep}. */
export function versionsToRemove(versions: readonly RetainedVersion[], policy: RetentionPolicy, now: number): number[] {
  const keep = versionsToKeep(versions, policy, now);
  return versions.filter((v) => !keep.has(v.seq)).map((v) => v.seq);
}
