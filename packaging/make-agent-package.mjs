#!/usr/bin/env node
// Builds an agent package: a gzip'd tar of the agent's runnable tree, the file that
// `cairn authority agent-package add FILE --version V` imports and Upgrade Clients offers.
//
//   node packaging/make-agent-package.mjs --version 1.2.3 --out cairn-agent-1.2.3.tar.gz [--node-modules copy|link]
//
// The tree (paths inside the tarball):
//   cairn-package.json      {"name":"cairn-agent","version":"1.2.3","entry":"cli/bin/cairn.js"}
//   cli/{bin,dist,package.json}, agent/{dist,package.json}, protocol/{dist,package.json}, package.json,
//   packaging/systemd/cairn-agent.service
//   node_modules/           the dependencies, with @cairn/{cli,agent,protocol} linking to the folders above
//
// The version is stamped into agent/dist/version.js (AGENT_VERSION = "cairn-agent/<version>"), so
// the installed agent reports it. Build on the platform the agents run on (native modules):
//   npm ci && npx tsc -b && npm prune --omit=dev && node packaging/make-agent-package.mjs …
// `--node-modules link` (tests, local trials) links the checkout's node_modules instead of copying
// them: such a package runs only on the machine that built it.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? dflt : args[i + 1];
};
const version = opt("version");
const out = opt("out");
const mode = opt("node-modules", "copy");
const repo = resolve(opt("from", join(dirname(fileURLToPath(import.meta.url)), "..")));
if (!version || !/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version) || !out || !["copy", "link"].includes(mode)) {
  console.error("usage: make-agent-package.mjs --version MAJOR.MINOR.PATCH[-pre] --out FILE [--node-modules copy|link] [--from CHECKOUT]");
  process.exit(2);
}
for (const p of ["cli/dist/main.js", "agent/dist/index.js", "protocol/dist/index.js"]) {
  if (!existsSync(join(repo, p))) {
    console.error(`${p} is missing: run npx tsc -b first`);
    process.exit(1);
  }
}

const stage = mkdtempSync(join(tmpdir(), "cairn-agent-package-"));
try {
  const copy = (rel) => cpSync(join(repo, rel), join(stage, rel), { recursive: true, filter: (src) => !src.endsWith(".tsbuildinfo") });
  for (const pkg of ["cli", "agent", "protocol"]) {
    mkdirSync(join(stage, pkg), { recursive: true });
    copy(`${pkg}/package.json`);
    copy(`${pkg}/dist`);
  }
  copy("cli/bin");
  copy("package.json");
  mkdirSync(join(stage, "packaging/systemd"), { recursive: true });
  copy("packaging/systemd/cairn-agent.service");
  writeFileSync(
    join(stage, "agent/dist/version.js"),
    `/** This agent's version, reported to the authority and the storage node. */\nexport const AGENT_VERSION = ${JSON.stringify(`cairn-agent/${version}`)};\n`,
  );
  const nm = join(stage, "node_modules");
  mkdirSync(join(nm, "@cairn"), { recursive: true });
  for (const pkg of ["cli", "agent", "protocol"]) symlinkSync(join("..", "..", pkg), join(nm, "@cairn", pkg));
  for (const name of readdirSync(join(repo, "node_modules"))) {
    if (name === "@cairn" || name === ".bin" || name.startsWith(".")) continue;
    const src = join(repo, "node_modules", name);
    if (mode === "link") symlinkSync(src, join(nm, name));
    else cpSync(src, join(nm, name), { recursive: true, verbatimSymlinks: true });
  }
  writeFileSync(join(stage, "cairn-package.json"), `${JSON.stringify({ name: "cairn-agent", version, entry: "cli/bin/cairn.js" }, null, 2)}\n`);
  const file = resolve(out);
  mkdirSync(dirname(file), { recursive: true });
  execFileSync("tar", ["-czf", file, "--owner=0", "--group=0", "-C", stage, "."]);
  const sha256 = createHash("sha256").update(readFileSync(file)).digest("hex");
  console.log(JSON.stringify({ file, version, sha256, bytes: readFileSync(file).length, nodeModules: mode }));
} finally {
  rmSync(stage, { recursive: true, force: true });
}
