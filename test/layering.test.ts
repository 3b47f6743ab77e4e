/**
 * The layering and clock rules of docs/development.md, checked on the sources:
 * - protocol/ imports nothing of ours and no I/O module;
 * - agent/, storenode/ and authority/ import @cairn/protocol (its index) and never each other;
 * - no src/ file imports a testing module or vitest;
 * - only protocol/src/clock.ts reads the wall clock;
 * - only command-line modules touch process.env / process.exit / process.argv.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const root = new URL("..", import.meta.url).pathname;

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === "node_modules" || e.name === "dist") continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (/\.(ts|tsx)$/.test(e.name) && !e.name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

function imports(file: string): string[] {
  const src = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of src.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']/g)) out.push(m[1] as string);
  for (const m of src.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g)) out.push(m[1] as string);
  return out;
}

const DAEMONS = ["agent", "storenode", "authority"] as const;
const srcFiles = (pkg: string) => walk(join(root, pkg, "src"));
const rel = (f: string) => relative(root, f);

describe("layering", () => {
  it("protocol/ imports nothing of ours and does no I/O", () => {
    const allowed = /^(\.{1,2}\/|node:(crypto|buffer|zlib|util)$|msgpackr$|zstd-napi)/;
    const bad = srcFiles("protocol").flatMap((f) =>
      imports(f)
        .filter((i) => !allowed.test(i))
        .map((i) => `${rel(f)}: ${i}`),
    );
    expect(bad).toEqual([]);
  });

  it.each(DAEMONS)("%s/ imports only @cairn/protocol of ours, never another daemon", (pkg) => {
    const bad = srcFiles(pkg).flatMap((f) =>
      imports(f)
        .filter((i) => (i.startsWith("@cairn/") && i !== "@cairn/protocol") || /^\.\.\/\.\.\/\.\.\//.test(i) || i.includes("/src/"))
        .map((i) => `${rel(f)}: ${i}`),
    );
    expect(bad).toEqual([]);
  });

  it("no source file imports a testing module or vitest", () => {
    const pkgs = ["protocol", ...DAEMONS, "cli"];
    const bad = pkgs.flatMap((pkg) =>
      srcFiles(pkg)
        .filter((f) => !/\/testing(\.ts|\/)/.test(f))
        .flatMap((f) =>
          imports(f)
            .filter((i) => /(^|\/)testing(\.js)?$|^vitest/.test(i))
            .map((i) => `${rel(f)}: ${i}`),
        ),
    );
    expect(bad).toEqual([]);
  });

  it("only protocol/src/clock.ts reads the wall clock", () => {
    const pkgs = ["protocol", ...DAEMONS];
    const bad = pkgs.flatMap((pkg) =>
      srcFiles(pkg)
        .filter((f) => !f.endsWith("protocol/src/clock.ts"))
        .filter((f) => /\bDate\.now\(|new Date\(\s*\)/.test(readFileSync(f, "utf8")))
        .map(rel),
    );
    expect(bad).toEqual([]);
  });

  it("only command-line modules read the environment or exit the process", () => {
    const bad = DAEMONS.flatMap((pkg) =>
      srcFiles(pkg)
        .filter((f) => !/\/cli(\.ts|\/)/.test(f))
        .filter((f) => /process\.(env|exit|argv)\b/.test(readFileSync(f, "utf8")))
        .map(rel),
    );
    expect(bad).toEqual([]);
  });

  it("SQL is only built from prepared statements (no interpolation into prepare)", () => {
    const bad = DAEMONS.flatMap((pkg) =>
      srcFiles(pkg)
        // Interpolating anything but `placeholders(…)` (storenode/src/sql.ts: question marks only)
        // into a prepared statement's SQL text is refused, generic type arguments or not.
        .filter((f) => /\.prepare(?:<[^>]*>)?\(\s*`[^`]*\$\{(?!placeholders\()/.test(readFileSync(f, "utf8")))
        .map(rel),
    );
    expect(bad).toEqual([]);
  });
});
