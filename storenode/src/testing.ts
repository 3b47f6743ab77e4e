/**
 * Test helpers for the storage node (exported as `@cairn/storenode/testing`, never imported by
 * `src/`): real WebSocket clients of the data channel and of the tenant control link, built on
 * the protocol's own `createPeer`, plus the disk doubles and the block-store conformance suite.
 */
import { randomBytes } from "node:crypto";
import {
  type ArchivePlacement,
  CairnError,
  type Clock,
  createPeer,
  DATA_CHANNEL,
  DEFAULT_RETENTION,
  decodeProviderKey,
  fromWire,
  MAX_CONTROL_FRAME_BYTES,
  MAX_DATA_FRAME_BYTES,
  NODE_CHANNEL,
  newGuid,
  PROTOCOL_VERSIONS,
  publicKeyInfo,
  type SigningKey,
  signToken,
  STORAGE_TOKEN_TTL_MS,
  sha256,
  subprotocolName,
  toBuffer,
} from "@cairn/protocol";
import WebSocket from "ws";
import { createProviderKey } from "./provider-key.js";

export { FaultyFs, RecordingFs, type FsOp, type RecordedOp } from "./blockstore/faulty-fs.js";
export { makeBlock, runBlockStoreTests, type BlockStoreFixture } from "./blockstore/testing.js";

/** Opens a wss connection to a node without pinning (tests only), resolving once open. */
export function openSocket(
  url: string,
  headers: Record<string, string> = {},
  protocols = PROTOCOL_VERSIONS.map(subprotocolName),
  maxPayload = MAX_DATA_FRAME_BYTES,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { rejectUnauthorized: false, perMessageDeflate: false, headers, maxPayload });
    ws.once("open", () => resolve(ws));
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c: Buffer) => {
        body += c.toString();
      });
      res.on("end", () => {
        ws.terminate();
        reject(Object.assign(new Error(`HTTP ${res.statusCode}: ${body}`), { status: res.statusCode, body }));
      });
    });
    ws.once("error", reject);
  });
}

/** A placement with defaults for tests. */
export function testPlacement(o: Partial<ArchivePlacement> = {}): ArchivePlacement {
  return {
    archiveGuid: newGuid(),
    storePointId: null,
    deviceGuid: newGuid(),
    userUid: newGuid(),
    orgUid: newGuid(),
    destinationGuid: newGuid(),
    quotaBytes: -1,
    retention: DEFAULT_RETENTION,
    cold: false,
    ...o,
  };
}

/** Signs a storage token for a placement. */
export function storageToken(
  key: SigningKey,
  p: ArchivePlacement,
  clock: Clock,
  o: { scope?: "backup" | "restore" | "all"; ttlMs?: number; dev?: string } = {},
): string {
  return signToken(
    {
      typ: "storage",
      iss: "1".repeat(18),
      sub: o.dev ?? p.deviceGuid,
      dev: o.dev ?? p.deviceGuid,
      usr: p.userUid,
      org: p.orgUid,
      arc: p.archiveGuid,
      dst: p.destinationGuid,
      scope: o.scope ?? "all",
    },
    key,
    clock,
    o.ttlMs ?? STORAGE_TOKEN_TTL_MS,
  );
}

/** A sealed-looking block: random bytes with id and SHA-256. */
export interface TestBlock {
  id: Buffer;
  sha: Buffer;
  data: Buffer;
}

/** Random blocks. */
export function randomBlocks(n: number, size = 4096): TestBlock[] {
  return Array.from({ length: n }, () => {
    const data = randomBytes(size);
    return { id: randomBytes(32), sha: sha256(data), data };
  });
}

/** A data-channel client over a real socket. */
export class DataClient {
  readonly peer;
  readonly acked = new Set<string>();
  readonly nacked = new Map<string, CairnError>();
  readonly events: { event: string; data: unknown }[] = [];
  closeCode: number | null = null;
  readonly closed: Promise<number>;
  private waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    this.peer = createPeer(DATA_CHANNEL, "b", {
      send: (f) => ws.send(f),
      maxFrameBytes: MAX_DATA_FRAME_BYTES,
      onFrame: (m) => {
        if (m.type === "ack") for (let o = 0; o < m.ids.length; o += 32) this.acked.add(m.ids.toString("hex", o, o + 32));
        else if (m.type === "nack") this.nacked.set(m.id.toString("hex"), fromWire(m.error));
        else return false;
        for (const w of this.waiters.splice(0)) w();
        return true;
      },
      onEvent: (event, data) => {
        this.events.push({ event, data });
      },
    });
    ws.on("message", (d) => this.peer.receive(toBuffer(d as Buffer)));
    this.closed = new Promise((resolve) =>
      ws.on("close", (code) => {
        this.closeCode = code;
        this.peer.close();
        for (const w of this.waiters.splice(0)) w();
        resolve(code);
      }),
    );
  }

  /** Connects with a storage token. */
  static async connect(url: string, token: string): Promise<DataClient> {
    return new DataClient(await openSocket(`${url}/v1/data`, { authorization: `Bearer ${token}` }));
  }

  /** Sends blocks as put frames (no waiting). */
  send(blocks: readonly TestBlock[]): void {
    for (const b of blocks) this.peer.sendFrame({ type: "put", id: b.id, sha: b.sha, data: b.data });
  }

  /** Sends blocks and waits until each is acknowledged or refused. */
  async put(blocks: readonly TestBlock[]): Promise<void> {
    this.send(blocks);
    await this.settled(blocks);
  }

  /** Waits until every block is acked or nacked (or the socket closed). */
  async settled(blocks: readonly TestBlock[]): Promise<void> {
    const done = () => blocks.every((b) => this.acked.has(b.id.toString("hex")) || this.nacked.has(b.id.toString("hex")));
    while (!done() && this.closeCode === null) await new Promise<void>((r) => this.waiters.push(r));
  }

  /** `have` as a list of booleans (MSB-first bitmap). */
  async have(ids: readonly Buffer[]): Promise<boolean[]> {
    const r = await this.peer.call("have", { ids: Buffer.concat(ids as Buffer[]) });
    return ids.map((_, i) => (((r.present[i >> 3] as number) >> (7 - (i & 7))) & 1) === 1);
  }

  /** Fetches blocks with `get`; returns data (or the error) per id. */
  async get(ids: readonly Buffer[]): Promise<Map<string, Buffer | CairnError>> {
    const out = new Map<string, Buffer | CairnError>();
    await this.peer.call(
      "get",
      { ids: Buffer.concat(ids as Buffer[]) },
      { onBlock: (b) => out.set(b.id.toString("hex"), b.data ?? fromWire(b.error ?? { code: "INTERNAL", message: "no data" })) },
    );
    return out;
  }

  close(): Promise<number> {
    this.ws.close(1000);
    return this.closed;
  }
}

/** A tenant authority's control link, as a real client (side `a` of the node channel). */
export interface TenantClient {
  peer: ReturnType<typeof createPeer<typeof NODE_CHANNEL, "a">>;
  ws: WebSocket;
  tenantId: string;
  tenantSecret: string;
  /** Calls the node received from the node on this link (announce, report-archives…). */
  received: { method: string; params: unknown }[];
  close(): Promise<void>;
}

/** Connects a tenant link: with `secret`, or registering with a fresh provider key of `dataDir`. */
export async function connectTenant(
  url: string,
  o: { dataDir?: string; tenantName?: string; quotaBytes?: number; key: SigningKey; secret?: string; authorityGuid?: string },
): Promise<TenantClient> {
  const received: { method: string; params: unknown }[] = [];
  const ws = await openSocket(`${url}/v1/tenant`, o.secret ? { authorization: `Bearer ${o.secret}` } : {}, undefined, MAX_CONTROL_FRAME_BYTES);
  const record =
    (method: string, result: unknown) =>
    (params: unknown): never => {
      received.push({ method, params });
      return result as never;
    };
  const peer = createPeer(NODE_CHANNEL, "a", {
    send: (f) => ws.send(f),
    maxFrameBytes: MAX_CONTROL_FRAME_BYTES,
    handlers: {
      "report-archives": record("report-archives", {}),
      "report-damage": record("report-damage", {}),
    },
    onEvent: (event, data) => {
      received.push({ method: `event:${event}`, params: data });
    },
  });
  ws.on("message", (d) => peer.receive(toBuffer(d as Buffer)));
  ws.on("close", () => peer.close());
  let tenantId = "";
  let tenantSecret = o.secret ?? "";
  if (!o.secret) {
    if (!o.dataDir) throw new CairnError("USAGE", "dataDir is needed to issue a provider key");
    const pk = createProviderKey({
      dataDir: o.dataDir,
      tenantName: o.tenantName ?? `tenant-${randomBytes(4).toString("hex")}`,
      ...(o.quotaBytes === undefined ? {} : { quotaBytes: o.quotaBytes }),
    });
    const key = decodeProviderKey(pk.providerKey);
    const r = await peer.call("tenant-register", {
      credential: key.credential,
      authorityGuid: o.authorityGuid ?? newGuid(),
      authorityName: "test authority",
      authorityPublicKeys: [publicKeyInfo(o.key)],
    });
    tenantId = r.tenantId;
    tenantSecret = r.tenantSecret;
  }
  return {
    peer,
    ws,
    tenantId,
    tenantSecret,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.once("close", () => resolve());
        ws.close(1000);
      }),
  };
}
