import { connect as tlsConnect } from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import { MAX_DATA_FRAME_BYTES } from "@cairn/protocol";
import WebSocket from "ws";
import { DataClient, FaultyFs, openSocket, randomBlocks, storageToken } from "../src/testing.js";
import { backupClient, commitFiles, restoreClient } from "./helpers/archive.js";
import { httpsGet, metric } from "./helpers/http.js";
import { type NodeFixture, startNode, testPlacement } from "./helpers/node.js";

let fx: NodeFixture | undefined;
afterEach(async () => {
  await fx?.teardown();
  fx = undefined;
});

describe("health and metrics", () => {
  it("serves /healthz, /readyz and the Prometheus counters", async () => {
    fx = await startNode();
    expect(await httpsGet(`${fx.node.url}/healthz`)).toMatchObject({ status: 200 });
    const ready = await httpsGet(`${fx.node.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toMatchObject({ status: "ok", checks: { database: "ok", "storePoint:sp1": "ok" } });
    const p = testPlacement();
    const { c, sessionId } = await backupClient(fx, p);
    const blocks = randomBlocks(3, 1000);
    await c.put([...blocks, blocks[0] as (typeof blocks)[0]]);
    await commitFiles(c, sessionId, [{ blocks }]);
    expect(await metric(fx.node.url, "storenode_bytes_received_total")).toBe(4000);
    expect(await metric(fx.node.url, "storenode_blocks_stored_total")).toBe(3);
    expect(await metric(fx.node.url, "storenode_active_connections", 'channel="data"')).toBe(1);
    expect(await metric(fx.node.url, "storenode_active_connections", 'channel="tenant"')).toBe(1);
    expect(await metric(fx.node.url, "storenode_store_point_free_bytes", 'store_point="sp1"')).toBeGreaterThan(0);
    await c.close();
    for (let i = 0; i < 100 && (await metric(fx.node.url, "storenode_active_connections", 'channel="data"')) !== 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(await metric(fx.node.url, "storenode_active_connections", 'channel="data"')).toBe(0);
  });

  it("reports not ready when a store point is below its reserve", async () => {
    fx = await startNode({ reserveBytes: Number.MAX_SAFE_INTEGER });
    const r = await httpsGet(`${fx.node.url}/readyz`);
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body).checks["storePoint:sp1"]).toBe("full");
  });
});

describe("upgrade: version negotiation and authentication", () => {
  it("refuses an unsupported protocol version with 426 naming both lists", async () => {
    fx = await startNode();
    const err = (await openSocket(`${fx.node.url}/v1/tenant`, {}, ["cairn.v9", "cairn.v7"]).catch((e: unknown) => e)) as { status: number; body: string };
    expect(err.status).toBe(426);
    const body = JSON.parse(err.body);
    expect(body.error.code).toBe("PROTOCOL_VERSION_UNSUPPORTED");
    expect(body.error.details).toEqual({ offered: [9, 7], supported: [1] });
    expect(body.error.message).toContain("[9, 7]");
  });

  it("refuses a data connection without a valid token before any frame", async () => {
    fx = await startNode();
    const none = (await openSocket(`${fx.node.url}/v1/data`).catch((e: unknown) => e)) as { status: number };
    expect(none.status).toBe(401);
    const bad = (await openSocket(`${fx.node.url}/v1/data`, { authorization: "Bearer abc.def.ghi" }).catch((e: unknown) => e)) as {
      status: number;
      body: string;
    };
    expect(bad.status).toBe(401);
    expect(JSON.parse(bad.body).error.code).toBe("TOKEN_INVALID");
    const p = testPlacement();
    const expired = storageToken(fx.key, p, fx.clock, { ttlMs: 1000 });
    await fx.tenant.peer.call("place-archive", p);
    fx.clock.advance(2000);
    const e2 = (await openSocket(`${fx.node.url}/v1/data`, { authorization: `Bearer ${expired}` }).catch((e: unknown) => e)) as { body: string };
    expect(JSON.parse(e2.body).error.code).toBe("TOKEN_EXPIRED");
    expect(((await openSocket(`${fx.node.url}/v1/nothing`).catch((e: unknown) => e)) as { status: number }).status).toBe(404);
  });

  it("closes an unauthenticated tenant socket that does not register within the deadline", async () => {
    fx = await startNode({ authDeadlineMs: 100 });
    const ws = await openSocket(`${fx.node.url}/v1/tenant`);
    const code = await new Promise<number>((r) => ws.once("close", (c) => r(c)));
    expect(code).toBe(4401);
  });

  it("drops a stalled peer that stops answering pings (half-open connection)", async () => {
    fx = await startNode({ heartbeatIntervalMs: 50 });
    const p = testPlacement();
    const { c } = await backupClient(fx, p);
    (c.ws as unknown as { _socket: { pause(): void } })._socket.pause(); // the peer stops reading: no pongs
    await new Promise<void>((resolve) => {
      const poll = async () => {
        if ((await metric(fx?.node.url ?? "", "storenode_active_connections", 'channel="data"')) === 0) resolve();
        else setTimeout(() => void poll(), 25);
      };
      void poll();
    });
    c.ws.terminate();
  });

  it("caps data connections per device", async () => {
    fx = await startNode({ maxConnectionsPerDevice: 2 });
    const p = testPlacement();
    await fx.tenant.peer.call("place-archive", p);
    const t = storageToken(fx.key, p, fx.clock);
    const a = await DataClient.connect(fx.node.url, t);
    const b = await DataClient.connect(fx.node.url, t);
    const third = (await DataClient.connect(fx.node.url, t).catch((e: unknown) => e)) as { status: number };
    expect(third.status).toBe(429);
    await a.close();
    await b.close();
  });
});

describe("T39/T40: hostile input and floods", () => {
  it("closes a socket sending a message over maxPayload with 1009, without deflate, and keeps serving others", async () => {
    fx = await startNode();
    const p = testPlacement();
    const { c } = await backupClient(fx, p);
    const bystander = await DataClient.connect(fx.node.url, storageToken(fx.key, p, fx.clock));
    expect(c.ws.extensions).toBe("");
    c.ws.send(Buffer.alloc(MAX_DATA_FRAME_BYTES + 1));
    expect(await c.closed).toBe(1009);
    await bystander.peer.call("open", { archiveGuid: p.archiveGuid, mode: "restore", sessionId: null, agentVersion: "t" });
    expect((await bystander.peer.call("list-versions", {})).versions).toEqual([]);
    // A permessage-deflate offer is not negotiated.
    const ws = await new Promise<WebSocket>((resolve, reject) => {
      const w = new WebSocket(`${fx?.node.url}/v1/tenant`, ["cairn.v1"], { rejectUnauthorized: false, perMessageDeflate: true });
      w.once("open", () => resolve(w));
      w.once("error", reject);
    });
    expect(ws.extensions).toBe("");
    ws.close();
    await bystander.close();
  });

  it("closes malformed frames with a protocol error and survives garbage", async () => {
    fx = await startNode();
    const p = testPlacement();
    const { c } = await backupClient(fx, p);
    c.ws.send(Buffer.from("not a frame at all"));
    expect(await c.closed).toBe(1002);
    expect(await httpsGet(`${fx.node.url}/healthz`)).toMatchObject({ status: 200 });
  });

  it("drops 2000 TLS connections that never send a request, and keeps serving an authenticated agent meanwhile", async () => {
    fx = await startNode({ authDeadlineMs: 5000 });
    const port = fx.node.port;
    const p = testPlacement();
    const { c, sessionId } = await backupClient(fx, p);
    // on a loaded machine the last handshakes may outlast the deadline: those sockets are closed
    // before they are up, which is the node doing its job too; most are up and silent
    let up = 0;
    const socks = await Promise.all(
      Array.from(
        { length: 2000 },
        () =>
          new Promise<import("node:tls").TLSSocket>((resolve) => {
            const s = tlsConnect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
              up++;
              resolve(s);
            });
            s.once("error", () => resolve(s));
          }),
      ),
    );
    expect(up).toBeGreaterThan(1000);
    expect(await httpsGet(`${fx.node.url}/healthz`)).toMatchObject({ status: 200 });
    // the agent that authenticated before the flood backs up through it, and a new one gets in
    const blocks = randomBlocks(8, 64 * 1024);
    await c.put(blocks);
    expect(c.nacked.size).toBe(0);
    await commitFiles(c, sessionId, [{ blocks }]);
    const reader = await restoreClient(fx, p);
    const got = await reader.get(blocks.map((b) => b.id));
    for (const b of blocks) expect((got.get(b.id.toString("hex")) as Buffer).equals(b.data)).toBe(true);
    await reader.close();
    await c.close();
    // every silent connection is closed by the node's deadline (the client never closes them)
    await Promise.all(socks.map((s) => new Promise<void>((r) => (s.closed ? r() : s.once("close", () => r())))));
  }, 60_000);

  it("pauses reading from an agent that sends faster than the disk, so memory stays bounded", async () => {
    const disk = new FaultyFs();
    const limit = 2 * 1024 * 1024;
    fx = await startNode({ fs: disk, maxInflightBytesPerConnection: limit, maxBatchBytes: 512 * 1024 });
    const p = testPlacement();
    const { c } = await backupClient(fx, p);
    const release = disk.hold("sync");
    const blocks = randomBlocks(48, 512 * 1024); // 24 MiB
    c.send(blocks);
    // While the disk is stuck, the node takes in at most about the limit plus what sockets buffer.
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 50));
      expect(await metric(fx.node.url, "storenode_bytes_received_total")).toBeLessThan(limit + 12 * 1024 * 1024);
    }
    release();
    await c.settled(blocks);
    expect(c.nacked.size).toBe(0);
    expect(c.acked.size).toBe(48);
    await c.close();
  });
});
