/**
 * The run window: when backups may send data, in the device's local time. `days` has one
 * character per weekday, Sunday first (JavaScript `getDay()` order); '0', '-', '.', 'n' and 'N'
 * mean "not on that day", anything else means "on". A window whose end is before its start wraps
 * past midnight (it belongs to the day it starts on). A null window means always.
 */

/** The run window shape of the device settings. */
export interface RunWindow {
  startMinute: number;
  endMinute: number;
  days: string;
}

function dayOn(days: string, d: number): boolean {
  const c = days[d] ?? "1";
  return !"0-.nN".includes(c);
}

/** Whether `now` (epoch ms) is inside the window. */
export function inRunWindow(w: RunWindow | null, now: number): boolean {
  if (!w) return true;
  const t = new Date(now);
  const minute = t.getHours() * 60 + t.getMinutes();
  const day = t.getDay();
  if (w.startMinute === w.endMinute) return dayOn(w.days, day);
  if (w.startMinute < w.endMinute) return dayOn(w.days, day) && minute >= w.startMinute && minute < w.endMinute;
  if (minute >= w.startMinute) return dayOn(w.days, day);
  return minute < w.endMinute && dayOn(w.days, (day + 6) % 7);
}

/** The next time at or after `now` (epoch ms, to the minute) the window is open; null when it never opens within a week. */
export function nextRunWindowOpen(w: RunWindow | null, now: number): number | null {
  if (inRunWindow(w, now)) return now;
  const start = Math.ceil(now / 60_000) * 60_000;
  for (let t = start; t < start + 8 * 24 * 60 * 60_000; t += 60_000) if (inRunWindow(w, t)) return t;
  return null;
}
