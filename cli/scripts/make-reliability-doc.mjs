#!/usr/bin/env node
// Regenerates docs/reliability.md: for each fault or attack T01-T40 of RELIABILITY.md, the tests
// that cover it (found by the T-number in the test's file, describe or it title).
//   node cli/scripts/make-reliability-doc.mjs
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("../..", import.meta.url).pathname;
const ROWS = {
  T01: "kill -9 of a storage node mid chunk write",
  T02: "kill -9 during the version commit",
  T03: "power loss / torn writes",
  T04: "kill -9 of the authority mid-transaction",
  T05: "ENOSPC on a storage node",
  T06: "authority database full",
  T07: "bit rot in a stored chunk",
  T08: "corrupt or missing metadata, then GC",
  T09: "network drop mid-upload, node restart",
  T10: "duplicate, out-of-order, premature frames",
  T11: "network drop during restore",
  T12: "two writers to one archive",
  T13: "backup while GC runs",
  T14: "crash or ENOSPC during purge/GC",
  T15: "cold-storage lifecycle and purge",
  T16: "clock skew on agent and server",
  T17: "the server cannot read data",
  T18: "cross-user dedup side channel",
  T19: "ciphertext tamper, swap, transplant, type confusion",
  T20: "manifest rollback or replay",
  T21: "wrong archive password, rotation, downgrade",
  T22: "nonce and key-usage correctness",
  T23: "fuzz every decoder",
  T24: "cross-tenant IDOR",
  T25: "role escalation, mass assignment",
  T26: "registration key abuse",
  T27: "deauthorize, block, deactivate with live sessions",
  T28: "token and URL replay",
  T29: "password timing, enumeration, brute force",
  T30: "TOTP replay and window",
  T31: "CSRF and cross-site WebSocket hijack",
  T32: "SQL injection",
  T33: "traversal through identifiers",
  T34: "TLS and identity",
  T35: "zip-slip in web restore",
  T36: "symlink and hardlink escape on restore",
  T37: "web restore size limit and bypasses",
  T38: "web restore disabled, inherited locks, key modes",
  T39: "oversized, fragmented or bomb WebSocket input",
  T40: "connection floods, slowloris, backpressure",
};
function walk(d, out = []) {
  for (const e of readdirSync(d, { withFileTypes: true })) {
    if (e.name === "node_modules" || e.name === "dist") continue;
    const p = join(d, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}
const hits = Object.fromEntries(Object.keys(ROWS).map((t) => [t, []]));
for (const pkg of ["protocol", "storenode", "agent", "authority", "cli", "test"]) {
  for (const f of walk(join(root, pkg))) {
    const src = readFileSync(f, "utf8");
    const rel = relative(root, f);
    for (const m of src.matchAll(/\b(?:describe|it)(?:\.each\([^)]*\))?\(\s*(["'`])((?:(?!\1).)*T\d\d(?:(?!\1).)*)\1/g)) {
      for (const t of m[2].match(/T\d\d/g) ?? []) if (hits[t]) hits[t].push(`\`${rel}\`: ${m[2].replace(/\|/g, "\\|")}`);
    }
    const header = src.slice(0, 1500);
    for (const t of new Set(header.match(/T\d\d/g) ?? [])) if (hits[t] && !hits[t].some((h) => h.startsWith(`\`${rel}\``))) hits[t].push(`\`${rel}\` (file)`);
  }
}
const lines = [
  "# Reliability: which test covers which fault",
  "",
  "Every row of `../shared/design/RELIABILITY.md` (T01-T40) and the tests that exercise it, found by",
  "the T-number in their titles (regenerate with `node cli/scripts/make-reliability-doc.mjs`; a test",
  "fails when a row has no test).",
  "",
];
for (const [t, what] of Object.entries(ROWS)) {
  lines.push(`## ${t}: ${what}`, "");
  for (const h of [...new Set(hits[t])]) lines.push(`- ${h}`);
  if (hits[t].length === 0) lines.push("- (no test yet)");
  lines.push("");
}
lines.push(
  "## The soak (`npm run soak`)",
  "",
  "The nightly cadence of RELIABILITY.md, as real processes on 127.0.0.1 with TLS (`cli/soak/run.mjs`):",
  "`SOAK_AGENTS` agents (4) each change their own tree (new files, rewrites, appends, edits in place,",
  "deletions, renames) and run a fresh `cairn agent backup` per round while a schedule seeded by",
  "`SOAK_SEED` SIGKILLs 30% of the backups at a random moment, SIGKILLs the storage node in 15% of",
  "the rounds and restarts it on the same port, and, in a TCP proxy in front of the node (the node",
  "announces the proxy's address), cuts a quarter of the connections after a random byte count and",
  "stalls one in ten for 5-40 s. In 12% of an agent's rounds that follow a committed backup it",
  "restores that version instead, under the same chaos (a quarter of those restores SIGKILLed): a",
  "restore that reports success must equal the tree. Before 4% of the backups the agent's database is",
  "deleted (its credentials kept) and the tree selected again, as after a lost or corrupt `agent.db`.",
  "After `SOAK_MINUTES` (5) the chaos stops: every agent must back up,",
  "restore its latest version identical to its tree (`diff -r`), and `cairn storenode verify` must find",
  "every block intact. A backup that has not ended after 3 minutes fails the soak (its log is kept).",
  "",
  "Its first runs found three hangs and two ways to lose a deletion, all fixed, each now a test:",
  "",
  "- a connection lost while the session re-staged its files after a node restart left the",
  "  re-staging waiting for the reconnect it ran in: the backup waited for ever with no connection",
  "  (T09 in `test/agent-reliability.e2e.test.ts`);",
  "- a `cairn agent backup` that failed because the node was down never exited: the configuration",
  "  refresh it had started in the background connected to the authority afterwards, and nothing",
  "  closed that connection (`test/agent-node-down.e2e.test.ts`);",
  "- a run that resumed the session a killed run had left (to take its lease over) committed that",
  "  run's staged files too, so a file deleted in between came back in every later version, and a",
  "  restore brought it back (T02 in `test/agent-reliability.e2e.test.ts`);",
  "- a run killed after its commit landed, before it recorded it, left the agent not knowing the",
  "  files that version added: one deleted later stayed in every version. The commit is now noted",
  "  before it is sent and recorded by the next run when the node's head is that version (T02);",
  "- a restore whose connection dropped as it finished printed its summary and never exited: the",
  "  reconnect in progress when the session closed opened a connection nobody closed (T11 there).",
  "",
  "A lost agent database lost deletions too: versions are deltas against the agent's cache, and a",
  "fresh cache does not know the head's files, so those deleted meanwhile stayed in every later",
  "version. The first full backup after it now lists the head and records them as deleted",
  "(`test/agent-backup.e2e.test.ts`); the soak deletes databases to keep it so.",
  "",
);
writeFileSync(join(root, "docs/reliability.md"), `${lines.join("\n").trimEnd()}\n`);
const missing = Object.keys(ROWS).filter((t) => hits[t].length === 0);
console.log(`docs/reliability.md written; rows without a test: ${missing.join(", ") || "none"}`);
