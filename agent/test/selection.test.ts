import { describe, expect, it } from "vitest";
import { addExcludePatterns, addToSelection, effectiveSelection, removeFromSelection, Selection } from "../src/selection.js";

describe("selection", () => {
  it("includes paths under roots, minus excluded paths and patterns", () => {
    const s = new Selection({ include: ["/home/u/", "/home/u/docs", "/srv"], exclude: ["/home/u/tmp"], excludePatterns: ["\\.cache/", "\\.o$"] });
    expect(s.roots()).toEqual(["/home/u", "/srv"]);
    expect(s.includes("/home/u/a.txt")).toBe(true);
    expect(s.includes("/home/u/tmp/x")).toBe(false);
    expect(s.includes("/home/u/tmp")).toBe(false);
    expect(s.includes("/home/u/tmpfile")).toBe(true);
    expect(s.includes("/home/u/.cache", true)).toBe(false);
    expect(s.includes("/home/u/.cache", false)).toBe(true);
    expect(s.includes("/home/u/x.o")).toBe(false);
    expect(s.includes("/etc/passwd")).toBe(false);
  });

  it("leaves out a stored pattern that could hang the scan (and says so); a typed one is a usage error", () => {
    expect(() => new Selection({ include: ["/home/u/"], exclude: [], excludePatterns: ["(unclosed"] })).toThrow(
      expect.objectContaining({ code: "CONFIG_INVALID" }),
    );
    const s = new Selection({ include: ["/home/u/"], exclude: [], excludePatterns: ["(a+)+$", "\\.tmp$"] });
    expect(s.refusedPatterns).toEqual([{ pattern: "(a+)+$", reason: expect.stringContaining("nested") }]);
    expect(s.includes(`/home/u/${"a".repeat(40)}!`)).toBe(true);
    expect(s.includes("/home/u/x.tmp")).toBe(false);
    expect(() => addExcludePatterns({ include: [], exclude: [], excludePatterns: [] }, ["(a+)+$"])).toThrow(expect.objectContaining({ code: "USAGE" }));
  });

  it("add, remove and exclude edit the local selection", () => {
    let spec = addToSelection({ include: [], exclude: [], excludePatterns: [] }, ["/data"]);
    spec = removeFromSelection(spec, ["/data/big"]);
    expect(spec).toEqual({ include: ["/data"], exclude: ["/data/big"], excludePatterns: [] });
    spec = addToSelection(spec, ["/data/big"]);
    expect(spec.exclude).toEqual([]);
    spec = removeFromSelection(spec, ["/data"]);
    expect(spec.include).toEqual(["/data/big"]);
    expect(() => addExcludePatterns(spec, ["("])).toThrow(/invalid exclusion pattern/);
    expect(() => addToSelection(spec, ["relative/x"])).toThrow(/absolute/);
  });

  it("a locked organization selection ignores the user's own", () => {
    const settings = {
      backupSets: [{ id: "1", name: "d", include: ["/org"], exclude: [], excludePatterns: [], destinations: [], locked: true, legalHold: false }],
      selectionLocked: false,
    } as never;
    const sel = effectiveSelection(settings, "123456789012345678", { include: ["/mine"], exclude: [], excludePatterns: [] });
    expect(sel.roots()).toEqual(["/org"]);
  });

  it("a legal-hold set adds its paths and keeps the user's own selection (API.md §11)", () => {
    const hold = (include: string[]) =>
      ({
        backupSets: [{ id: "lh-1", name: "Legal hold: Case 7", include, exclude: [], excludePatterns: [], destinations: [], locked: true, legalHold: true }],
        selectionLocked: false,
      }) as never;
    const mine = { include: ["/mine"], exclude: [], excludePatterns: [] };
    expect(effectiveSelection(hold([]), "123456789012345678", mine).roots()).toEqual(["/mine"]);
    expect(effectiveSelection(hold(["/hold"]), "123456789012345678", mine).roots()).toEqual(["/hold", "/mine"]);
  });
});
