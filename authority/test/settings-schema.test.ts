/**
 * The completeness test (kopia's policy_merge_test): every setting has a default, a rule the
 * resolver knows, a doc line and an entry in docs/settings.md, and docs/settings.md names no
 * setting that does not exist.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { resolveSettings } from "../src/settings/resolve.js";
import { type FieldSpec, GROUP_NAMES, SETTINGS_SCHEMA, settingKey } from "../src/settings/schema.js";

const DOC = readFileSync(join(import.meta.dirname, "..", "..", "docs", "settings.md"), "utf8");
const RULES = new Set(["override", "raiseOnly", "capByParent"]);

const fields = GROUP_NAMES.flatMap((g) => Object.entries(SETTINGS_SCHEMA[g].fields as Record<string, FieldSpec<unknown>>).map(([k, spec]) => ({ g, k, spec })));

describe("settings schema completeness", () => {
  it.each(fields.map((x) => [settingKey(x.g, x.k), x] as const))("%s has a default, a rule, docs and a resolver result", (key, { g, k, spec }) => {
    expect(spec.default, "default").not.toBeUndefined();
    expect(RULES.has(spec.rule), "rule").toBe(true);
    expect(spec.doc.length, "doc").toBeGreaterThan(10);
    expect(spec.parse(structuredClone(spec.default), key), "the default passes its own parser").toEqual(spec.default);
    if (spec.rule === "raiseOnly") expect(spec.order?.includes(spec.default), "raise-only fields list their order").toBe(true);
    if (spec.rule === "capByParent") expect(typeof spec.default).toBe("number");
    expect(DOC, "docs/settings.md entry").toContain(`\`${key}\``);
    const resolved = resolveSettings([{ id: 1, groups: {}, packets: {}, locks: [] }]);
    expect((resolved.values as unknown as Record<string, Record<string, unknown>>)[g]?.[k], "the resolver yields it").toEqual(spec.default);
    expect(resolved.source[key]).toBe(1);
  });

  it("docs/settings.md names only settings that exist", () => {
    const known = new Set(fields.map((x) => settingKey(x.g, x.k)));
    const named = [...DOC.matchAll(/^\| `([a-z]+\.[A-Za-z_]+)` \|/gm)].map((m) => m[1] as string);
    expect(named.length).toBeGreaterThan(0);
    for (const n of named) expect(known.has(n), n).toBe(true);
  });

  it("refuses an exclusion pattern that would hang every device's scan, with a reason", () => {
    const spec = (SETTINGS_SCHEMA.device.fields as Record<string, FieldSpec<unknown>>).excludePatterns as FieldSpec<unknown>;
    expect(spec.parse(["\\.tmp$", "/cache/$"], "device.excludePatterns")).toEqual(["\\.tmp$", "/cache/$"]);
    expect(() => spec.parse(["(a+)+$"], "device.excludePatterns")).toThrow(/take for ever.*nested/);
    expect(() => spec.parse(["(unclosed"], "device.excludePatterns")).toThrow(/not a valid regular expression/);
  });

  it("says a critical threshold below the warning in the unit the console's form uses", () => {
    const problem = SETTINGS_SCHEMA.device.check?.({ minutesUntilWarning: 14_400, minutesUntilSevere: 7200 });
    expect(problem?.message).toBe("minutesUntilSevere (5 days) must be greater than minutesUntilWarning (10 days): a device is warned before it is critical");
    expect(SETTINGS_SCHEMA.device.check?.({ minutesUntilWarning: 90, minutesUntilSevere: 60 })?.message).toContain("(1 hour)");
    expect(SETTINGS_SCHEMA.device.check?.({ minutesUntilWarning: 60, minutesUntilSevere: 7200 })).toBeNull();
  });

  it("every group with a platform flag is inherited as a whole", () => {
    for (const g of GROUP_NAMES) if (SETTINGS_SCHEMA[g].apiFlag !== undefined) expect(SETTINGS_SCHEMA[g].inheritance).toBe("group");
  });
});
