import { describe, expect, it } from "vitest";
import { inRunWindow } from "../src/daemon/run-window.js";

describe("run windows", () => {
  it("spans midnight, honours the weekday mask, and no window means always", () => {
    const w = { startMinute: 22 * 60, endMinute: 6 * 60, days: "1111111" };
    expect(inRunWindow(w, new Date(2026, 2, 2, 23, 0).getTime())).toBe(true);
    expect(inRunWindow(w, new Date(2026, 2, 2, 5, 59).getTime())).toBe(true);
    expect(inRunWindow(w, new Date(2026, 2, 2, 12, 0).getTime())).toBe(false);
    expect(inRunWindow({ startMinute: 0, endMinute: 0, days: "0000000" }, new Date(2026, 2, 2).getTime())).toBe(false);
    expect(inRunWindow(null, 0)).toBe(true);
  });
});
