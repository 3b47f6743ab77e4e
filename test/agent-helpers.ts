/**
 * Helpers for the agent's end-to-end tests: a real storage node on 127.0.0.1 (standalone, no
 * authority), with this test playing only the authority's signing role. The archive is placed
 * through the node's tenant control link (`/v1/tenant`, provider key → `tenant-register` →
 * `place-archive`), and storage tokens are signed with the test's Ed25519 key.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { get as httpsGet } from "node:https";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createPeer,
  DEFAULT_RETENTION,
  decodeProviderKey,
  generateKey,
  generateSigningKey,
  MAX_CONTROL_FRAME_BYTES,
  newGuid,
  NODE_CHANNEL,
  publicKeyInfo,
  type SigningKey,
  signToken,
  STORAGE_TOKEN_TTL_MS,
  systemClock,
  type Clock,
  toBuffer,
} from "@cairn/protocol";
import { createProviderKey, initStorenode, type StorenodeHandle, startStorenode } from "@cairn/storenode";
import WebSocket from "ws";

/** A node, its tenant link and a way to make archives. */
export interface TestNode {
  dir: string;
  node: StorenodeHandle;
  signing: SigningKey;
  /** Places a new archive and returns what the agent needs to back up to it. */
  newArchive(o?: { quotaBytes?: number; deviceGuid?: string; userUid?: string; orgUid?: string }): Promise<TestArchive>;
  /** Signs another storage token for an archive. */
  token(a: TestArchive, clock?: Clock): string;
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** An archive placed on the test node. */
export interface TestArchive {
  endpoint: { archiveGuid: string; url: string; fingerprint: string; token: string };
  archiveKey: Buffer;
  deviceGuid: string;
  userUid: string;
  orgUid: string;
  destinationGuid: string;
}

async function tenantCall(url: string, fingerprint: string, secret: string | null, method: string, params: unknown): Promise<unknown> {
  const ws = new WebSocket(url, ["cairn.v1"], {
    rejectUnauthorized: false,
    perMessageDeflate: false,
    headers: secret ? { authorization: `Bearer ${secret}` } : {},
  });
  void fingerprint;
  ws.binaryType = "nodebuffer";
  await new Promise<void>((res, rej) => {
    ws.once("open", () => res());
    ws.once("error", rej);
    ws.once("unexpected-response", (_q, r) => rej(new Error(`tenant upgrade refused: ${r.statusCode}`)));
  });
  const peer = createPeer(NODE_CHANNEL, "a", {
    send: (f) => ws.send(f),
    maxFrameBytes: MAX_CONTROL_FRAME_BYTES,
    handlers: {
      announce: async () => {
        throw new Error("not served");
      },
      "report-archives": () => ({}),
    } as never,
  });
  ws.on("message", (d) => peer.receive(toBuffer(d as Buffer)));
  try {
    return await (peer.call as (m: string, p: unknown) => Promise<unknown>)(method, params);
  } finally {
    ws.close();
  }
}

/** Sealed bytes the node has received in `put` frames since it started (its `/metrics` counter). */
export async function nodeBytesReceived(node: StorenodeHandle): Promise<number> {
  return nodeMetric(node, "storenode_bytes_received_total");
}

/** One unlabelled (or first labelled) sample of the node's /metrics. */
export async function nodeMetric(node: StorenodeHandle, name: string): Promise<number> {
  const u = new URL(node.url);
  const text = await new Promise<string>((resolve, reject) => {
    httpsGet({ host: u.hostname, port: u.port, path: "/metrics", rejectUnauthorized: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () => resolve(body));
      res.on("error", reject);
    }).on("error", reject);
  });
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

/** Starts a standalone storage node on 127.0.0.1:0 with a tenant this test controls. */
export async function startTestNode(opts: { clock?: Clock; leaseTtlMs?: number } = {}): Promise<TestNode> {
  const dir = mkdtempSync(join(tmpdir(), "cairn-e2e-node-"));
  const signing = generateSigningKey();
  const dataDir = join(dir, "node");
  await initStorenode({ dataDir, storePoints: [join(dir, "sp1")], trustedAuthorityKeys: [publicKeyInfo(signing)] });
  const start = () =>
    startStorenode({
      dataDir,
      host: "127.0.0.1",
      port: 0,
      connectAuthority: false,
      maintenanceSchedule: null,
      verifySchedule: null,
      ...(opts.clock ? { clock: opts.clock } : {}),
      ...(opts.leaseTtlMs ? { leaseTtlMs: opts.leaseTtlMs } : {}),
    });
  let node = await start();
  const pk = createProviderKey({ dataDir, tenantName: "agent-tests", urls: [node.url] });
  const key = decodeProviderKey(pk.providerKey);
  const tenantUrl = `${node.url.replace(/\/+$/, "")}/v1/tenant`;
  const authorityGuid = newGuid();
  const reg = (await tenantCall(tenantUrl, node.fingerprint, null, "tenant-register", {
    credential: key.credential,
    authorityGuid,
    authorityName: "test authority",
    authorityPublicKeys: [publicKeyInfo(signing)],
  })) as { tenantSecret: string };
  const clock = opts.clock ?? systemClock;
  const t: TestNode = {
    dir,
    get node() {
      return node;
    },
    signing,
    async newArchive(o = {}) {
      const a = {
        archiveGuid: newGuid(),
        deviceGuid: o.deviceGuid ?? newGuid(),
        userUid: o.userUid ?? newGuid(),
        orgUid: o.orgUid ?? newGuid(),
        destinationGuid: newGuid(),
      };
      await tenantCall(`${node.url.replace(/\/+$/, "")}/v1/tenant`, node.fingerprint, reg.tenantSecret, "place-archive", {
        archiveGuid: a.archiveGuid,
        storePointId: null,
        deviceGuid: a.deviceGuid,
        userUid: a.userUid,
        orgUid: a.orgUid,
        destinationGuid: a.destinationGuid,
        quotaBytes: o.quotaBytes ?? -1,
        retention: DEFAULT_RETENTION,
        cold: false,
      });
      const archive: TestArchive = {
        endpoint: { archiveGuid: a.archiveGuid, url: `${node.url.replace(/\/+$/, "")}/v1/data`, fingerprint: node.fingerprint, token: "" },
        archiveKey: generateKey(),
        ...a,
      };
      archive.endpoint.token = t.token(archive, clock);
      return archive;
    },
    token(a, c = clock) {
      return signToken(
        {
          typ: "storage",
          iss: authorityGuid,
          sub: a.deviceGuid,
          aud: a.destinationGuid,
          dev: a.deviceGuid,
          usr: a.userUid,
          org: a.orgUid,
          arc: a.endpoint.archiveGuid,
          dst: a.destinationGuid,
          scope: "all",
        },
        signing,
        c,
        STORAGE_TOKEN_TTL_MS,
      );
    },
    async restart() {
      await node.close();
      node = await start();
    },
    async close() {
      await node.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return t;
}

/** The directory where the node keeps one archive (packs/ and index.db), found on the store point. */
export function archiveDir(tn: TestNode, archiveGuid: string): string {
  const root = join(tn.dir, "sp1", "archives");
  for (const ns of readdirSync(root)) {
    if (readdirSync(join(root, ns)).includes(archiveGuid)) return join(root, ns, archiveGuid);
  }
  throw new Error(`archive ${archiveGuid} not found on the store point`);
}

/** A loopback proxy (RELIABILITY.md H4). */
export interface CuttingProxy {
  port: number;
  /** Bytes client → node. */
  upstream(): number;
  /** Bytes node → client. */
  downstream(): number;
  cuts(): number;
  /** Rewrites an endpoint to go through the proxy. */
  via<T extends { endpoint: { url: string } }>(a: T): T;
  close(): Promise<void>;
}

/**
 * H4: a loopback TCP proxy that cuts its first connection once `cutAfter` bytes went in the given
 * direction (`up`: client → node, `down`: node → client), and calls `onCut`. Later connections pass.
 */
export async function cuttingProxy(target: number, cutAfter: number, direction: "up" | "down" = "up", onCut?: () => void): Promise<CuttingProxy> {
  let up = 0;
  let down = 0;
  let cuts = 0;
  let cutDone = false;
  const socks = new Set<Socket>();
  const server: Server = createServer((c) => {
    const s = connect(target, "127.0.0.1");
    socks.add(c);
    socks.add(s);
    let seenUp = 0;
    let seenDown = 0;
    const cut = () => {
      cutDone = true;
      cuts++;
      c.destroy();
      s.destroy();
      onCut?.();
    };
    c.on("data", (d) => {
      up += d.length;
      seenUp += d.length;
      if (!cutDone && direction === "up" && seenUp > cutAfter) return cut();
      s.write(d);
    });
    s.on("data", (d) => {
      down += d.length;
      seenDown += d.length;
      if (!cutDone && direction === "down" && seenDown > cutAfter) return cut();
      c.write(d);
    });
    c.on("close", () => s.destroy());
    s.on("close", () => c.destroy());
    c.on("error", () => s.destroy());
    s.on("error", () => c.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    upstream: () => up,
    downstream: () => down,
    cuts: () => cuts,
    via: (a) => ({ ...a, endpoint: { ...a.endpoint, url: a.endpoint.url.replace(`:${target}/`, `:${port}/`) } }),
    close: async () => {
      for (const x of socks) x.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
