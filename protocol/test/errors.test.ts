import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CairnError, ERROR_CODES, EXIT, exitCodeFor, fromWire, isCairnError, toCairnError } from "../src/errors.js";

describe("error registry", () => {
  it("maps every code to a valid HTTP status, close code and exit code", () => {
    const exits = new Set<number>(Object.values(EXIT));
    for (const [code, s] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^[A-Z][A-Z0-9_]+$/);
      expect(s.http).toBeGreaterThanOrEqual(200);
      expect(s.http).toBeLessThan(600);
      expect(
        s.close === 1001 ||
          s.close === 1002 ||
          s.close === 1006 ||
          s.close === 1008 ||
          s.close === 1009 ||
          s.close === 1011 ||
          s.close === 1013 ||
          s.close === 1015 ||
          (s.close >= 4000 && s.close <= 4999),
      ).toBe(true);
      expect(exits.has(s.exit)).toBe(true);
    }
  });

  it("docs/errors.md lists every code, and nothing else", () => {
    const doc = readFileSync(new URL("../../docs/errors.md", import.meta.url), "utf8");
    const documented = new Set([...doc.matchAll(/^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|/gm)].map((m) => m[1]));
    expect([...documented].sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it("survives the wire and maps to exit codes", () => {
    const e = new CairnError("ARCHIVE_IN_USE", "busy", { details: { a: 1 } });
    const back = fromWire(e.toWire());
    expect(isCairnError(back, "ARCHIVE_IN_USE")).toBe(true);
    expect(back.details).toEqual({ a: 1 });
    expect(exitCodeFor(back)).toBe(11);
    expect(exitCodeFor(new Error("x"))).toBe(1);
    expect(fromWire({ code: "WHATEVER", message: "m" }).code).toBe("INTERNAL");
    expect(toCairnError(new Error("boom")).code).toBe("INTERNAL");
    expect(exitCodeFor(new CairnError("CANCELLED"))).toBe(130);
    expect(exitCodeFor(new CairnError("NOT_REGISTERED"))).toBe(10);
    expect(exitCodeFor(new CairnError("CONFIG_INVALID"))).toBe(78);
    expect(exitCodeFor(new CairnError("INVALID_CREDENTIALS"))).toBe(12);
    expect(exitCodeFor(new CairnError("PARTIAL"))).toBe(3);
  });
});
