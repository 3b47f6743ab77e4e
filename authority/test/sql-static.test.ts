/**
 * T32's static half: SQL is never built from strings. Fails when a `prepare(` argument, or any
 * template literal that holds SQL, interpolates a value with `${`.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const PKG = join(import.meta.dirname, "..");
const SRC = join(PKG, "src");
const ROOTS = [SRC, join(PKG, "test"), join(PKG, "bench")];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|mjs)$/.test(p) ? [p] : [];
  });
}

/** Template literals of a source text (naive, but our code has no nested backticks). */
function templates(text: string): string[] {
  return [...text.matchAll(/`([^`]*)`/g)].map((m) => m[1] as string);
}

describe("SQL is only prepared statements", () => {
  const all = ROOTS.flatMap(files).filter((f) => !f.endsWith("sql-static.test.ts"));

  it("finds the sources", () => {
    expect(all.length).toBeGreaterThan(10);
  });

  it.each(all.map((f) => [f.slice(PKG.length + 1), f]))("%s interpolates nothing into SQL", (_name, f) => {
    const text = readFileSync(f, "utf8");
    const prepareArgs = [...text.matchAll(/prepare\(\s*`([^`]*)`/g)].map((m) => m[1] as string);
    for (const a of prepareArgs) expect(a, "prepare() with an interpolated template").not.toContain("${");
    for (const t of templates(text)) {
      if (/\b(SELECT|INSERT|UPDATE|DELETE|WHERE|VALUES)\b/.test(t)) expect(t, "SQL template literal with an interpolation").not.toContain("${");
    }
  });
});
