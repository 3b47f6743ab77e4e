/**
 * `initStorenode`: prepares a data directory. Makes the TLS certificate first (its fingerprint
 * goes into `enroll`), records the store points, then either enrolls with the own authority
 * (`wss://A/v1/storenode`, one-time enroll key → node secret, server GUID, the authority's
 * token-signing keys) or, without an authority, makes a standalone node (a provider serving only
 * tenants, or a test node that trusts the keys it is given).
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { basename, isAbsolute, join, resolve } from "node:path";
import {
  CairnError,
  type Clock,
  createPeer,
  MAX_CONTROL_FRAME_BYTES,
  NODE_CHANNEL,
  newGuid,
  normalizeFingerprint,
  type PublicKeyInfo,
  systemClock,
  toBuffer,
} from "@cairn/protocol";
import type { Logger } from "pino";
import { connectPinned, wsBase } from "./control/pinned-ws.js";
import { NodeDb, OWN_NS } from "./node-db.js";
import { storePointInfo } from "./space.js";
import { ensureTls } from "./tls.js";
import { NODE_VERSION } from "./version.js";

/** Options of {@link initStorenode}. */
export interface InitStorenodeOptions {
  dataDir: string;
  /** Store point directories (created if missing). */
  storePoints: readonly string[];
  /** The node's name (default: the host name). */
  name?: string;
  /** wss URLs agents and tenants reach the node at (default: derived from host and port at `serve`). */
  urls?: readonly string[];
  /** Enroll with this authority. Without it the node is standalone. */
  authority?: { url: string; fingerprint: string; enrollKey: string };
  /** Token-signing keys the own namespace trusts without an authority (tests, standalone). */
  trustedAuthorityKeys?: readonly PublicKeyInfo[];
  clock?: Clock;
  logger?: Logger;
}

/** What {@link initStorenode} made. */
export interface InitStorenodeResult {
  serverGuid: string;
  fingerprint: string;
  storePoints: { id: number; path: string; name: string; authorityId: number | null }[];
  enrolled: boolean;
  destinationGuid: string | null;
  authorityGuid: string | null;
}

/** The own authority as recorded at enrollment. */
export interface OwnAuthority {
  url: string;
  fingerprint: string;
  authorityGuid: string;
  destinationGuid: string;
}

/** Initializes a data directory (see the file comment). Throws CONFLICT if it is initialized already. */
export async function initStorenode(opts: InitStorenodeOptions): Promise<InitStorenodeResult> {
  const clock = opts.clock ?? systemClock;
  const dataDir = resolve(opts.dataDir);
  if (opts.storePoints.length === 0) throw new CairnError("USAGE", "at least one --store-point is required");
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const db = new NodeDb(dataDir);
  try {
    if (db.getSetting<string>("serverGuid")) throw new CairnError("CONFLICT", `${dataDir} is already initialized`);
    const tls = await ensureTls(dataDir, clock);
    const name = opts.name ?? hostname();
    const used = new Set<string>();
    for (const raw of opts.storePoints) {
      const path = resolve(raw);
      if (!isAbsolute(path)) throw new CairnError("USAGE", `store point ${raw} is not a path`);
      mkdirSync(join(path, "archives"), { recursive: true, mode: 0o700 });
      let spName = basename(path) || "store";
      while (used.has(spName)) spName = `${spName}-${used.size + 1}`;
      used.add(spName);
      db.addStorePoint(path, spName);
    }
    if (opts.urls) db.setSetting("urls", [...opts.urls]);
    db.setSetting("name", name);
    let serverGuid: string;
    let own: OwnAuthority | null = null;
    if (opts.authority) {
      const r = await enroll(db, opts.authority, name, tls.fingerprint, opts.urls ?? [`wss://${hostname()}:443`]);
      serverGuid = r.serverGuid;
      own = r.own;
      writeFileSync(join(dataDir, "node-secret"), r.nodeSecret, { mode: 0o600 });
    } else {
      serverGuid = newGuid();
      if (opts.trustedAuthorityKeys) db.setKeys(OWN_NS, opts.trustedAuthorityKeys);
    }
    db.setSetting("authority", own);
    db.setSetting("serverGuid", serverGuid);
    opts.logger?.info({ serverGuid, enrolled: own !== null, storePoints: opts.storePoints.length }, "initialized");
    return {
      serverGuid,
      fingerprint: tls.fingerprint,
      storePoints: db.storePoints().map((s) => ({ id: s.id, path: s.path, name: s.name, authorityId: s.authorityId })),
      enrolled: own !== null,
      destinationGuid: own?.destinationGuid ?? null,
      authorityGuid: own?.authorityGuid ?? null,
    };
  } finally {
    db.close();
  }
}

async function enroll(
  db: NodeDb,
  a: { url: string; fingerprint: string; enrollKey: string },
  name: string,
  fingerprint: string,
  urls: readonly string[],
): Promise<{ serverGuid: string; nodeSecret: string; own: OwnAuthority }> {
  const base = wsBase(a.url);
  normalizeFingerprint(a.fingerprint);
  const ws = await connectPinned(`${base}/v1/storenode`, { fingerprint: a.fingerprint });
  const peer = createPeer(NODE_CHANNEL, "b", { send: (f) => ws.send(f), maxFrameBytes: MAX_CONTROL_FRAME_BYTES, timeoutMs: 30_000 });
  ws.on("message", (d) => peer.receive(toBuffer(d as Buffer)));
  ws.on("close", () => peer.close());
  try {
    const points = db.storePoints();
    const infos = await Promise.all(points.map((sp) => storePointInfo(sp, () => null, 0)));
    const r = await peer.call("enroll", { enrollKey: a.enrollKey, name, urls: [...urls], fingerprint, storePoints: infos, nodeVersion: NODE_VERSION });
    for (const sp of points) {
      const match = r.storePoints.find((x) => x.name === sp.name) ?? r.storePoints[points.indexOf(sp)];
      if (match) db.setAuthorityStorePointId(sp.id, match.storePointId);
    }
    db.setKeys(OWN_NS, r.authorityPublicKeys);
    return {
      serverGuid: r.serverGuid,
      nodeSecret: r.nodeSecret,
      own: { url: base, fingerprint: a.fingerprint, authorityGuid: r.authorityGuid, destinationGuid: r.destinationGuid },
    };
  } finally {
    ws.close(1000);
  }
}

/** Whether a data directory has been initialized. */
export function isInitialized(dataDir: string): boolean {
  return existsSync(join(dataDir, "node.db"));
}
