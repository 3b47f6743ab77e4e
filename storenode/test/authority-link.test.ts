import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  type ArchivePlacement,
  createPeer,
  generateSigningKey,
  isCairnError,
  MAX_CONTROL_FRAME_BYTES,
  NODE_CHANNEL,
  newGuid,
  publicKeyInfo,
  type RpcPeer,
  systemClock,
  toBuffer,
} from "@cairn/protocol";
import { WebSocketServer } from "ws";
import { initStorenode, startStorenode, type StorenodeHandle } from "../src/index.js";
import { DataClient, randomBlocks, storageToken, testPlacement } from "../src/testing.js";
import { ensureTls } from "../src/tls.js";

type AuthorityPeer = RpcPeer<(typeof NODE_CHANNEL)["a"], (typeof NODE_CHANNEL)["b"]>;

/** A stand-in for the authority's `wss://A/v1/storenode` endpoint (the world outside this package). */
async function fakeAuthority(dir: string, placements: ArchivePlacement[]) {
  const tls = await ensureTls(dir, systemClock);
  const key = generateSigningKey();
  const calls: { method: string; params: unknown; authed: boolean }[] = [];
  const peers: AuthorityPeer[] = [];
  const sockets: import("ws").WebSocket[] = [];
  const secret = "cnn_node-secret-for-tests-0123456789";
  const serverGuid = newGuid();
  const server: Server = createServer({ key: tls.key, cert: tls.cert });
  const wss = new WebSocketServer({ noServer: true, handleProtocols: () => "cairn.v1" });
  server.on("upgrade", (req, socket, head) => {
    const authed = req.headers.authorization === `Bearer ${secret}`;
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.push(ws);
      const record = (method: string) => (params: unknown) => {
        calls.push({ method, params, authed });
        return params;
      };
      const peer: AuthorityPeer = createPeer(NODE_CHANNEL, "a", {
        send: (f) => ws.send(f),
        maxFrameBytes: MAX_CONTROL_FRAME_BYTES,
        handlers: {
          enroll: (p) => {
            record("enroll")(p);
            return {
              serverGuid,
              nodeSecret: secret,
              destinationGuid: newGuid(),
              authorityGuid: newGuid(),
              authorityPublicKeys: [publicKeyInfo(key)],
              storePoints: p.storePoints.map((s, i) => ({ storePointId: 100 + i, name: s.name })),
            };
          },
          announce: (p) => {
            record("announce")(p);
            return { serverGuid, authorityGuid: newGuid(), authorityPublicKeys: [publicKeyInfo(key)], storePoints: [], revocations: [], placements };
          },
          "report-archives": (p) => {
            record("report-archives")(p);
            return {};
          },
          "report-damage": (p) => {
            record("report-damage")(p);
            return {};
          },
        },
      });
      ws.on("message", (d) => peer.receive(toBuffer(d as Buffer)));
      ws.on("close", () => peer.close());
      peers.push(peer);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `https://127.0.0.1:${port}`,
    fingerprint: tls.fingerprint,
    key,
    calls,
    peers,
    sockets,
    async waitFor(method: string, n = 1) {
      while (calls.filter((c) => c.method === method).length < n) await new Promise((r) => setTimeout(r, 10));
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.terminate();
        server.close(() => r());
      }),
  };
}

let node: StorenodeHandle | undefined;
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await node?.close();
  node = undefined;
  for (const f of cleanup.splice(0)) await f();
});

describe("the link to the own authority", () => {
  it("enrolls, announces, takes placements from the answer, serves the authority's devices and reconnects", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cairn-own-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const placement = testPlacement({ storePointId: 100 });
    const auth = await fakeAuthority(join(dir, "authority"), [placement]);
    cleanup.push(() => auth.close());
    const init = await initStorenode({
      dataDir: join(dir, "data"),
      storePoints: [join(dir, "sp")],
      urls: ["wss://node.example:443"],
      authority: { url: auth.url, fingerprint: auth.fingerprint, enrollKey: "cne_one-time-key" },
    });
    expect(init).toMatchObject({ enrolled: true, storePoints: [{ authorityId: 100 }] });
    const enroll = auth.calls.find((c) => c.method === "enroll");
    expect(enroll?.params).toMatchObject({ enrollKey: "cne_one-time-key", fingerprint: init.fingerprint, urls: ["wss://node.example:443"] });

    node = await startStorenode({ dataDir: join(dir, "data"), host: "127.0.0.1", port: 0, maintenanceSchedule: null, verifySchedule: null, reserveBytes: 0 });
    await auth.waitFor("report-archives");
    const announce = auth.calls.find((c) => c.method === "announce");
    expect(announce?.authed).toBe(true);
    expect(announce?.params).toMatchObject({ fingerprint: init.fingerprint, storePoints: [{ storePointId: 100 }] });
    const reported = auth.calls.find((c) => c.method === "report-archives")?.params as { archives: { archiveGuid: string; storePointId: number }[] };
    expect(reported.archives).toEqual([expect.objectContaining({ archiveGuid: placement.archiveGuid, storePointId: 100 })]);

    // A device of the own authority backs up with a token the node verifies offline.
    const c = await DataClient.connect(node.url, storageToken(auth.key, placement, systemClock));
    await c.peer.call("open", { archiveGuid: placement.archiveGuid, mode: "backup", sessionId: null, agentVersion: "t" });
    await c.put(randomBlocks(2));
    expect(c.nacked.size).toBe(0);
    // The authority orders a placement over the link, and asks whether the device is connected.
    const peer = auth.peers.at(-1) as AuthorityPeer;
    const p2 = testPlacement();
    expect(await peer.call("place-archive", p2)).toMatchObject({ archiveGuid: p2.archiveGuid, storePointId: 100 });
    expect(await peer.call("device-connected", { deviceGuid: placement.deviceGuid })).toEqual({ connected: true });
    await c.close();

    // The link drops: the node dials again and announces again.
    for (const s of auth.sockets) s.terminate();
    await auth.waitFor("announce", 2);
  });

  it("refuses to enroll with an authority whose certificate does not match, sending no key", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cairn-own-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const auth = await fakeAuthority(join(dir, "authority"), []);
    cleanup.push(() => auth.close());
    const wrong = "AA:".repeat(31) + "AA";
    const err = await initStorenode({
      dataDir: join(dir, "data"),
      storePoints: [join(dir, "sp")],
      authority: { url: auth.url, fingerprint: wrong, enrollKey: "cne_k" },
    }).catch((e: unknown) => e);
    expect(isCairnError(err, "TLS_FINGERPRINT_MISMATCH")).toBe(true);
    expect(auth.calls).toEqual([]);
  });
});

describe("a second authority as a tenant, in its own process", () => {
  it("backs up, restores and purges through the same node, and neither side reaches the other's archives or figures", async () => {
    const { spawn } = await import("node:child_process");
    const { createProviderKey } = await import("../src/index.js");
    const dir = mkdtempSync(join(tmpdir(), "cairn-two-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const own = testPlacement({ storePointId: 100 });
    const auth = await fakeAuthority(join(dir, "authority"), [own]);
    cleanup.push(() => auth.close());
    await initStorenode({
      dataDir: join(dir, "data"),
      storePoints: [join(dir, "sp")],
      authority: { url: auth.url, fingerprint: auth.fingerprint, enrollKey: "cne_one-time-key" },
    });
    node = await startStorenode({ dataDir: join(dir, "data"), host: "127.0.0.1", port: 0, maintenanceSchedule: null, verifySchedule: null, reserveBytes: 0 });
    await auth.waitFor("report-archives");
    const a = await DataClient.connect(node.url, storageToken(auth.key, own, systemClock));
    await a.peer.call("open", { archiveGuid: own.archiveGuid, mode: "backup", sessionId: null, agentVersion: "a" });
    await a.put(randomBlocks(3));
    await a.close();

    const { providerKey } = createProviderKey({ dataDir: join(dir, "data"), tenantName: "authority-b", urls: [node.url] });
    const child = spawn(process.execPath, [join(import.meta.dirname, "fixtures/tenant-authority.mjs"), providerKey, own.archiveGuid], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    cleanup.push(() => {
      child.kill("SIGKILL");
    });
    const lines: Record<string, unknown>[] = [];
    child.stdout.on("data", (d: Buffer) => {
      for (const l of d.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(l));
    });
    const step = async (name: string) => {
      while (!lines.some((l) => l.step === name)) await new Promise((r) => setTimeout(r, 20));
      return lines.find((l) => l.step === name) as Record<string, unknown>;
    };
    const b = await step("backed-up");
    expect(b).toMatchObject({ restored: true, probe: "NOT_FOUND", tokenForOther: 401, listed: [b.archiveGuid] });
    // The own authority sees none of the tenant's archive or figures, and its devices cannot reach it.
    const peer = auth.peers.at(-1) as AuthorityPeer;
    expect(isCairnError(await peer.call("archive-versions", { archiveGuid: b.archiveGuid as string }).catch((e: unknown) => e), "NOT_FOUND")).toBe(true);
    expect((await peer.call("list-archives", {})).archives.map((x) => x.archiveGuid)).toEqual([own.archiveGuid]);
    const forged = await DataClient.connect(node.url, storageToken(auth.key, { ...own, archiveGuid: b.archiveGuid as string }, systemClock)).catch(
      (e: unknown) => e,
    );
    expect((forged as { status: number }).status).toBe(401);
    child.stdin.write("purge\n");
    expect(await step("purged")).toMatchObject({ existed: true, after: 401 });
    // The own authority's archive is untouched by the tenant's purge.
    const r = await DataClient.connect(node.url, storageToken(auth.key, own, systemClock));
    await r.peer.call("open", { archiveGuid: own.archiveGuid, mode: "restore", sessionId: null, agentVersion: "a" });
    await r.close();
  });
});
