#!/usr/bin/env node
// Regenerates the configuration tables of docs/operations.md from the daemons' key lists
// (authority/src/serve-config.ts, storenode/src/serve-config.ts, agent/src/config/agent-config.ts):
//   npx tsc -b && node packaging/make-config-docs.mjs
// Each table sits between `<!-- config:NAME -->` and `<!-- /config:NAME -->`; a test compares them.
import { readFileSync, writeFileSync } from "node:fs";
import { AGENT_CONFIG } from "../agent/dist/index.js";
import { AUTHORITY_SERVE_CONFIG } from "../authority/dist/index.js";
import { renderConfigDocs } from "../protocol/dist/index.js";
import { STORENODE_SERVE_CONFIG } from "../storenode/dist/index.js";

const file = new URL("../docs/operations.md", import.meta.url);
let doc = readFileSync(file, "utf8");
for (const [name, spec] of [
  ["authority", AUTHORITY_SERVE_CONFIG],
  ["storenode", STORENODE_SERVE_CONFIG],
  ["agent", AGENT_CONFIG],
]) {
  const re = new RegExp(`(<!-- config:${name} -->)[\\s\\S]*?(<!-- /config:${name} -->)`);
  if (!re.test(doc)) throw new Error(`docs/operations.md has no config:${name} block`);
  doc = doc.replace(re, (_m, a, b) => `${a}\n${renderConfigDocs(spec)}\n${b}`);
}
writeFileSync(file, doc);
console.log("docs/operations.md: configuration tables regenerated");
