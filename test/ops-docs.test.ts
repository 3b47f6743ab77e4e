/**
 * docs/operations.md stays true to the code: its configuration tables are what
 * `renderConfigDocs` makes of each daemon's key list (regenerate with `npx tsc -b && node
 * packaging/make-config-docs.mjs`), and it names every metric the agent exports.
 */
import { readFileSync } from "node:fs";
import { AGENT_CONFIG, AgentMetrics } from "@cairn/agent";
import { AUTHORITY_SERVE_CONFIG } from "@cairn/authority";
import { renderConfigDocs } from "@cairn/protocol";
import { STORENODE_SERVE_CONFIG } from "@cairn/storenode";
import { describe, expect, it } from "vitest";

const doc = readFileSync(new URL("../docs/operations.md", import.meta.url), "utf8");

describe("docs/operations.md", () => {
  for (const [name, spec] of [
    ["authority", AUTHORITY_SERVE_CONFIG],
    ["storenode", STORENODE_SERVE_CONFIG],
    ["agent", AGENT_CONFIG],
  ] as const) {
    it(`documents every ${name} configuration key as generated`, () => {
      const m = new RegExp(`<!-- config:${name} -->\\n([\\s\\S]*?)\\n<!-- /config:${name} -->`).exec(doc);
      expect(m?.[1]).toBe(renderConfigDocs(spec));
    });
  }

  it("names every metric of the agent", async () => {
    const names = (await new AgentMetrics().registry.getMetricsAsJSON()).map((x) => x.name).filter((n) => !/^agent_(process|nodejs)_/.test(n));
    expect(names.length).toBeGreaterThan(10);
    for (const n of names) expect(doc, n).toContain(n);
  });

  it("covers install, configuration, monitoring, logs, backups, both disasters, upgrades and the authority away", () => {
    for (const h of [
      "## Install",
      "## Configuration",
      "## Monitoring",
      "## Logs",
      "## Backing up the authority",
      "## When the authority is lost",
      "## When a storage node is lost",
      "## Upgrades",
      "## When the authority is away",
    ])
      expect(doc).toContain(h);
  });
});
