#!/usr/bin/env node
// Regenerates the command reference in docs/cli.md from the commander trees themselves:
//   npx tsc -b && node cli/scripts/make-cli-doc.mjs
// The hand-written part of docs/cli.md (above the marker line) is kept; a test checks that every
// command appears in the file.
import { readFileSync, writeFileSync } from "node:fs";

const MARK = "<!-- generated: node cli/scripts/make-cli-doc.mjs -->";
const ctx = {
  json: false,
  quiet: false,
  verbose: false,
  logLevel: "silent",
  configFile: undefined,
  env: {},
  stdout: process.stdout,
  stderr: process.stderr,
  signal: new AbortController().signal,
  print() {},
  printJsonLine() {},
  progressAllowed: false,
  setExitCode() {},
};
const mods = {
  authority: await import("@cairn/authority/cli"),
  storenode: await import("@cairn/storenode/cli"),
  agent: await import("@cairn/agent/cli"),
  demo: await import("../dist/demo.js"),
};
const out = [];
function walk(cmd, path) {
  const full = [...path, cmd.name()].join(" ");
  const subs = cmd.commands.filter((c) => c.name() !== "help");
  out.push(`### \`${full}\``, "", cmd.description() || "", "");
  const args = cmd.registeredArguments ?? [];
  const opts = cmd.options.filter((o) => o.long !== "--help");
  if (subs.length === 0 || args.length || opts.length) {
    const usage = `${full} ${cmd.usage()}`.replace(/\s+/g, " ").trim();
    out.push("```", usage, "```", "");
  }
  if (args.length) {
    out.push("| argument | meaning |", "| --- | --- |");
    for (const a of args) out.push(`| \`${a.name()}${a.variadic ? "…" : ""}\` | ${a.description || ""} |`);
    out.push("");
  }
  if (opts.length) {
    out.push("| option | meaning |", "| --- | --- |");
    for (const o of opts) {
      const def =
        o.defaultValue !== undefined && !(Array.isArray(o.defaultValue) && o.defaultValue.length === 0) && o.defaultValue !== false
          ? ` (default: \`${JSON.stringify(o.defaultValue)}\`)`
          : "";
      out.push(`| \`${o.flags}\` | ${(o.description || "").replace(/\|/g, "\\|")}${def} |`);
    }
    out.push("");
  }
  for (const s of subs) walk(s, [...path, cmd.name()]);
}
for (const m of Object.values(mods)) walk(await m.createCommand(ctx), ["cairn"]);
const file = new URL("../../docs/cli.md", import.meta.url);
let head;
try {
  head = readFileSync(file, "utf8").split(MARK)[0].trimEnd();
} catch {
  head = "# The `cairn` command";
}
writeFileSync(file, `${head}\n\n${MARK}\n\n## Command reference\n\n${out.join("\n").replace(/\n{3,}/g, "\n\n")}\n`);
console.log("docs/cli.md written");
