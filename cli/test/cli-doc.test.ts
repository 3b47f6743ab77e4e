import { readFileSync } from "node:fs";
import type { CommandContext } from "@cairn/protocol";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";

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
} as CommandContext;

function paths(cmd: Command, prefix: string[]): string[] {
  const here = [...prefix, cmd.name()].join(" ");
  return [here, ...cmd.commands.filter((c) => c.name() !== "help").flatMap((c) => paths(c, [...prefix, cmd.name()]))];
}

describe("docs/cli.md", () => {
  it("documents every command and subcommand (regenerate: node cli/scripts/make-cli-doc.mjs)", async () => {
    const doc = readFileSync(new URL("../../docs/cli.md", import.meta.url), "utf8");
    const trees = await Promise.all([
      import("@cairn/authority/cli").then((m) => m.createCommand(ctx)),
      import("@cairn/storenode/cli").then((m) => m.createCommand(ctx)),
      import("@cairn/agent/cli").then((m) => m.createCommand(ctx)),
      import("../src/demo.js").then((m) => m.createCommand(ctx)),
    ]);
    const missing = trees.flatMap((t) => paths(t as Command, ["cairn"])).filter((p) => !doc.includes(`### \`${p}\``));
    expect(missing).toEqual([]);
  });
});
