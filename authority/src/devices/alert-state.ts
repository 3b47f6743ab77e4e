/**
 * A device's alert state (API.md §6, DECISIONS.md "Thresholds"): OK, warning or critical by the
 * minutes since its last completed backup (its registration when it never completed one) on
 * the server's clock, against the device settings' `minutesUntilWarning` / `minutesUntilSevere`.
 * Deactivated devices are OK (they are not expected to back up). Pure.
 */
import { MINUTE_MS } from "@cairn/protocol";

/** 0 OK, 1 warning, 2 critical (the platform's `alertState`). */
export type AlertLevel = 0 | 1 | 2;

/** Alert thresholds in minutes. */
export interface Thresholds {
  warnMinutes: number;
  severeMinutes: number;
}

/** The platform's `alertStates` words for a level. */
export const ALERT_STATES: Record<AlertLevel, string[]> = { 0: ["OK"], 1: ["WARNING"], 2: ["CRITICAL"] };

/** The alert level of a device. */
export function alertLevel(d: { active: boolean; lastCompletedBackupAt: number | null; createdAt: number }, t: Thresholds, now: number): AlertLevel {
  if (!d.active) return 0;
  const since = d.lastCompletedBackupAt ?? d.createdAt;
  if (since < now - t.severeMinutes * MINUTE_MS) return 2;
  if (since < now - t.warnMinutes * MINUTE_MS) return 1;
  return 0;
}
