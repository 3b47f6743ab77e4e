/**
 * Health and metrics of the authority and the agent (issue 9; the storage node's are in
 * storenode/test/server.test.ts): `/healthz`, `/readyz` and Prometheus `/metrics` on the
 * authority's HTTPS port or an operator-chosen address (readiness failing below the free-space
 * reserve), and on the agent's local API socket and its optional metrics address, with the
 * figures of a real backup, a purge run and live connections.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { type AgentHandle, startAgent } from "@cairn/agent";
import { operationsOf, type RunningAuthority, startAuthority } from "@cairn/authority";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "./helpers/cairn-process.js";
import { type Cluster, startCluster } from "./helpers/cluster.js";

function get(url: string, o: { ca?: string; socketPath?: string } = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = (u.protocol === "https:" ? httpsRequest : httpRequest)(
      o.socketPath
        ? { socketPath: o.socketPath, path: u.pathname }
        : { host: u.hostname, port: u.port, path: u.pathname, ...(o.ca ? { ca: o.ca, servername: "localhost" } : {}) },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** The value of one sample of the Prometheus text (first match), or undefined. */
function sample(text: string, name: string, labels = ""): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const [key, value] = line.split(" ");
    if (key === name + labels || (labels === "" && key === name)) return Number(value);
  }
  return undefined;
}

describe("health and metrics", () => {
  let c: Cluster;
  let agent: AgentHandle;
  let second: RunningAuthority | null = null;

  beforeAll(async () => {
    c = await startCluster({ agents: 1 });
    writeFileSync(join(c.agents[0]!.home, "notes.txt"), "metrics are figures\n".repeat(1000));
    c.agents[0]!.select();
    agent = await startAgent({ dataDir: c.agents[0]!.dataDir, logger: c.logger, tickMs: 0, watch: false, metricsAddress: { host: "127.0.0.1", port: 0 } });
    await eventually(() => agent.authorityConnected, 20_000, "the agent's link");
    await agent.backupNow();
  });
  afterAll(async () => {
    await agent?.close();
    await second?.close();
    await c?.dispose();
  });

  it("the authority answers /healthz, /readyz and /metrics on its HTTPS port", async () => {
    const a = c.authority;
    expect(await get(`${a.url}/healthz`, { ca: a.certPem })).toEqual({ status: 200, text: '{"status":"ok"}' });
    const ready = await get(`${a.url}/readyz`, { ca: a.certPem });
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text)).toMatchObject({
      status: "ok",
      checks: { database: { status: "ok" }, disk: { status: "ok" }, nodes: { connected: 1, known: 1 } },
    });
    await operationsOf(a.ctx).coldStorage.purgeDue(a.ctx.clock.now());
    await a.py42().data("GET", "/api/User/my");
    await eventually(
      async () => sample((await get(`${a.url}/metrics`, { ca: a.certPem })).text, "authority_backups_completed_total") === 1,
      10_000,
      "the node's commit report",
    );
    const m = (await get(`${a.url}/metrics`, { ca: a.certPem })).text;
    expect(sample(m, "authority_connections", '{peer="agent"}')).toBe(1);
    expect(sample(m, "authority_connections", '{peer="node"}')).toBe(1);
    expect(sample(m, "authority_backups_running")).toBe(0);
    expect(sample(m, "authority_purge_runs_total", '{trigger="scheduled"}')).toBe(1);
    expect(sample(m, "authority_bytes_received_total")).toBeGreaterThan(1000);
    expect(sample(m, "authority_bytes_sent_total")).toBeGreaterThan(1000);
    expect(m).toContain('authority_http_request_duration_seconds_count{route="/api/User/my",method="GET",status="2xx"}');
    expect(m).toContain("# TYPE authority_restore_jobs gauge");
    expect(m).toContain("authority_process_cpu_seconds_total");
  });

  it("an authority with a metrics address serves them there (not on HTTPS), and is not ready below its reserve", async () => {
    const port = c.authority.port;
    await c.authority.close();
    second = await startAuthority({
      dataDir: c.authority.dataDir,
      host: "127.0.0.1",
      port,
      logger: c.logger,
      metrics: { host: "127.0.0.1", port: 0 },
      reserveBytes: 2 ** 60,
    });
    const url = second.metricsUrl as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect((await get(url)).text).toContain("authority_connections");
    expect((await get(`${second.url}/metrics`, { ca: second.certPem })).status).toBe(404);
    expect((await get(url.replace("/metrics", "/healthz"))).status).toBe(200);
    const ready = await get(url.replace("/metrics", "/readyz"));
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.text)).toMatchObject({ status: "fail", checks: { disk: { status: "fail" }, database: { status: "ok" } } });
  });

  it("the agent answers on its local socket and its metrics address", async () => {
    const socketPath = join(c.agents[0]!.dataDir, "agent.sock");
    expect(JSON.parse((await get("http://agent/healthz", { socketPath })).text)).toEqual({ status: "ok" });
    const ready = await get("http://agent/readyz", { socketPath });
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text)).toMatchObject({ status: "ok", checks: { registered: true, tokens: { status: "ok" } } });
    for (const m of [(await get("http://agent/metrics", { socketPath })).text, (await get(agent.metricsUrl as string)).text]) {
      expect(sample(m, "agent_backups_total", '{result="completed"}')).toBe(1);
      expect(sample(m, "agent_bytes_uploaded_total")).toBeGreaterThan(0);
      expect(sample(m, "agent_files_backed_up_total")).toBeGreaterThan(0);
      expect(sample(m, "agent_backups_running")).toBe(0);
      expect(sample(m, "agent_info", '{version="cairn-agent/0.1.0"}')).toBe(1);
      expect(sample(m, "agent_storage_token_expiry_timestamp_seconds")).toBeGreaterThan(Date.now() / 1000);
      expect(sample(m, "agent_last_completed_backup_timestamp_seconds")).toBeGreaterThan(Date.now() / 1000 - 600);
      expect(m).toContain("agent_backup_duration_seconds_count 1");
    }
  });
});
