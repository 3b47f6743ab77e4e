import { describe, expect, it } from "vitest";
import { inRunWindow, nextRunWindowOpen } from "../src/daemon/run-window.js";

describe("run windows", () => {
  it("spans midnight, honours the weekday mask, and no window means always", () => {
    const w = { startMinute: 22 * 60, endMinute: 6 * 60, days: "1111111" };
    expect(inRunWindow(w, new Date(2026, 2, 2, 23, 0).getTime())).toBe(true);
    expect(inRunWindow(w, new Date(2026, 2, 2, 5, 59).getTime())).toBe(true);
    expect(inRunWindow(w, new Date(2026, 2, 2, 12, 0).getTime())).toBe(false);
    expect(inRunWindow({ startMinute: 0, endMinute: 0, days: "0000000" }, new Date(2026, 2, 2).getTime())).toBe(false);
    expect(inRunWindow(null, 0)).toBe(true);
  });

  it("says when a closed window opens next (what a manual backup outside it waits for)", () => {
    const w = { startMinute: 60, endMinute: 120, days: "1111111" };
    const noon = new Date(2026, 2, 2, 12, 0, 30).getTime();
    expect(nextRunWindowOpen(w, noon)).toBe(new Date(2026, 2, 3, 1, 0).getTime());
    expect(nextRunWindowOpen(w, new Date(2026, 2, 2, 1, 30).getTime())).toBe(new Date(2026, 2, 2, 1, 30).getTime());
    expect(nextRunWindowOpen(null, noon)).toBe(noon);
    // Mondays only (Sunday first), from a Monday afternoon: next Monday
    const mondays = { startMinute: 60, endMinute: 120, days: "0100000" };
    expect(nextRunWindowOpen(mondays, noon)).toBe(new Date(2026, 2, 9, 1, 0).getTime());
    expect(nextRunWindowOpen({ startMinute: 0, endMinute: 0, days: "0000000" }, noon)).toBeNull();
  });
});
