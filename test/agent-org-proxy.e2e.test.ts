/**
 * Seed 001, device backup defaults › Network: "configure proxy settings". An organization's
 * `proxyUrl` reaches the agent with its configuration, and the agent's connections to the storage
 * node and the authority go through that HTTP CONNECT proxy (a real one on 127.0.0.1, counting
 * tunnels). A proxy URL with credentials is refused; a proxy that stops answering does not cut the
 * device off from the authority, so the administrator's correction still arrives.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, startCluster } from "./helpers/cluster.js";

/** A minimal HTTP CONNECT proxy: one tunnel per CONNECT, each target recorded. */
async function startConnectProxy(): Promise<{ url: string; targets: string[]; close: () => Promise<void> }> {
  const targets: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.once("data", (head: Buffer) => {
      const m = /^CONNECT ([^\s:]+):(\d+) HTTP\/1\.[01]\r\n/.exec(head.toString("latin1"));
      if (!m) {
        client.end("HTTP/1.1 405 Method Not Allowed\r\n\r\n");
        return;
      }
      targets.push(`${m[1]}:${m[2]}`);
      const upstream = tcpConnect(Number(m[2]), m[1], () => {
        client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        upstream.pipe(client);
        client.pipe(upstream);
      });
      sockets.add(upstream);
      upstream.on("close", () => sockets.delete(upstream));
      upstream.on("error", () => client.destroy());
      client.on("error", () => upstream.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    targets,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe("the organization's proxy setting", () => {
  let c: Cluster;
  let proxy: Awaited<ReturnType<typeof startConnectProxy>>;
  let topOrgId: number;
  const setDevice = (values: Record<string, unknown>) =>
    c.authority.py42().call("PUT", `/api/v1/orgs/${topOrgId}/settings`, { groups: { device: { values } } });

  beforeAll(async () => {
    c = await startCluster({ agents: 1 });
    proxy = await startConnectProxy();
    topOrgId = ((await c.authority.py42().data("GET", "/api/Org/my")) as { orgId: number }).orgId;
  }, 120_000);
  afterAll(async () => {
    await proxy?.close();
    await c?.dispose();
  });

  it("refuses a proxy URL with a user name and password, or one that is not http(s)", async () => {
    for (const bad of ["http://user:secret@127.0.0.1:3128", "socks5://127.0.0.1:1080", "not a url"]) {
      const r = await setDevice({ proxyUrl: bad });
      expect(r.status, bad).toBe(400);
      expect(r.text).toContain("proxyUrl");
    }
  });

  it("sends the agent's backups through the proxy once the organization sets it", async () => {
    const a = c.agents[0]!;
    a.select();
    writeFileSync(join(a.home, "one.txt"), "through the proxy\n");
    expect((await setDevice({ proxyUrl: proxy.url })).status).toBe(200);
    // The run that fetches the new configuration has already opened its connections (it syncs
    // alongside the backup); from the next run on, both connections go through the proxy.
    expect((await a.backup()).errors).toBe(0);
    const nodePort = c.nodes[0]!.handle.port;
    const authorityPort = Number(new URL(c.authority.url).port);
    writeFileSync(join(a.home, "two.txt"), "again\n");
    const before = proxy.targets.length;
    expect((await a.backup()).errors).toBe(0);
    const since = proxy.targets.slice(before);
    expect(since).toContain(`127.0.0.1:${authorityPort}`);
    expect(since).toContain(`127.0.0.1:${nodePort}`);
  });

  it("still reaches the authority when the proxy stops answering, and picks up the correction", async () => {
    const a = c.agents[0]!;
    await proxy.close();
    expect((await setDevice({ proxyUrl: null })).status).toBe(200);
    writeFileSync(join(a.home, "three.txt"), "no proxy any more\n");
    // The stored configuration still names the dead proxy: the run falls back to direct
    // connections, to the authority (which sends the correction) and to the node.
    const r = await a.backup();
    expect(r.errors).toBe(0);
    expect(r.changedFiles).toBeGreaterThan(0);
    // The restore (a new run, with the corrected configuration) goes straight to the node.
    const out = join(c.dir, "restored");
    expect((await a.restore({ target: out, paths: [a.home] })).errors).toBe(0);
    expect(readFileSync(join(out, basename(a.home), "three.txt"), "utf8")).toBe("no proxy any more\n");
  });
});
