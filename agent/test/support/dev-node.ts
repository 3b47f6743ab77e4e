/**
 * A minimal in-memory data-channel server, for the agent's own engine tests while the real storage
 * node is not available to this package (agent tests may not import @cairn/storenode; the e2e tests
 * in test/ run against the real one). It follows the DATA_CHANNEL contract closely enough to
 * exercise sessions, have/put/ack, staging, commits, resume and restores; it checks nothing a real
 * node checks beyond the put checksum. Test-only.
 */
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { certFingerprint, DATA_CHANNEL, createPeer, DEFAULT_RETENTION, MAX_DATA_FRAME_BYTES, newOpaqueId, sha256, toBuffer, CairnError } from "@cairn/protocol";
import { generate } from "selfsigned";
import { WebSocketServer, type WebSocket } from "ws";

interface FileV {
  fileId: Buffer;
  seq: number;
  time: number;
  deleted: boolean;
  size: number;
  blocks: Buffer;
  meta: Buffer | null;
}

/** The dev node's state, open for tests to poke at (rollback, damage). */
export interface DevArchive {
  blocks: Map<string, Buffer>;
  versions: Array<{ seq: number; time: number; clientTime: number; manifestHash: Buffer; manifest: Buffer; changedFiles: number; complete: boolean }>;
  files: FileV[];
  sessions: Map<string, { staged: Map<string, FileV>; acked: Set<string> }>;
}

/** A running dev node. */
export interface DevNode {
  url: string;
  fingerprint: string;
  archive(guid: string): DevArchive;
  /** Bytes of put frames received. */
  received(): number;
  /** Closes every open socket (a dropped connection). */
  dropAll(): void;
  close(): Promise<void>;
}

/** Starts a dev node on 127.0.0.1. */
export async function startDevNode(): Promise<DevNode> {
  const pems = await generate([{ name: "commonName", value: "dev-node" }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    extensions: [{ name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] }],
  } as never);
  const archives = new Map<string, DevArchive>();
  const arch = (g: string): DevArchive => {
    let a = archives.get(g);
    if (!a) {
      a = { blocks: new Map(), versions: [], files: [], sessions: new Map() };
      archives.set(g, a);
    }
    return a;
  };
  let received = 0;
  let clock = Date.UTC(2026, 0, 1);
  const now = () => (clock += 1000);
  const server: Server = createServer({ key: pems.private, cert: pems.cert }, (_req, res) => {
    res.writeHead(404);
    res.end();
  });
  const wss = new WebSocketServer({ server, maxPayload: MAX_DATA_FRAME_BYTES, perMessageDeflate: false, handleProtocols: () => "cairn.v1" });
  const sockets = new Set<WebSocket>();
  wss.on("connection", (ws: WebSocket) => {
    sockets.add(ws);
    ws.on("close", () => sockets.delete(ws));
    let archive: DevArchive | null = null;
    let session: { staged: Map<string, FileV>; acked: Set<string> } | null = null;
    const pendingAcks: Buffer[] = [];
    let ackTimer: ReturnType<typeof setTimeout> | null = null;
    const peer = createPeer(DATA_CHANNEL, "a", {
      send: (f) => ws.send(f),
      maxFrameBytes: MAX_DATA_FRAME_BYTES,
      onFrame: (m) => {
        if (m.type !== "put" || !archive || !session) return false;
        received += m.data.length;
        if (!sha256(m.data).equals(m.sha)) {
          peer.sendFrame({ type: "nack", id: m.id, error: { code: "INTEGRITY", message: "sha mismatch" } });
          return true;
        }
        const k = m.id.toString("hex");
        archive.blocks.set(k, Buffer.from(m.data));
        session.acked.add(k);
        pendingAcks.push(Buffer.from(m.id));
        if (!ackTimer)
          ackTimer = setTimeout(() => {
            ackTimer = null;
            const ids = Buffer.concat(pendingAcks.splice(0));
            if (ws.readyState === ws.OPEN) peer.sendFrame({ type: "ack", ids });
          }, 2);
        return true;
      },
      handlers: {
        open: (p) => {
          archive = arch(p.archiveGuid);
          let resumed = false;
          let sid = p.sessionId;
          if (sid && archive.sessions.has(sid)) resumed = true;
          else {
            sid = newOpaqueId();
            archive.sessions.set(sid, { staged: new Map(), acked: new Set() });
          }
          session = archive.sessions.get(sid) ?? null;
          const h = archive.versions.at(-1);
          return {
            sessionId: sid,
            leaseExpiresAt: p.mode === "backup" ? clock + 60_000 : null,
            head: h ? { seq: h.seq, manifestHash: h.manifestHash, time: h.time } : null,
            staged: session?.staged.size ?? 0,
            resumed,
            serverTime: clock,
            quotaBytes: -1,
            usedBytes: 0,
            retention: DEFAULT_RETENTION,
          };
        },
        have: (p) => {
          const a = archive as DevArchive;
          const n = p.ids.length / 32;
          const present = Buffer.alloc(Math.ceil(n / 8));
          for (let i = 0; i < n; i++)
            if (a.blocks.has(p.ids.toString("hex", i * 32, i * 32 + 32))) present[i >> 3] = (present[i >> 3] as number) | (1 << (7 - (i & 7)));
          return { present };
        },
        "stage-files": (p) => {
          const s = (archive as DevArchive).sessions.get(p.sessionId);
          if (!s) throw new CairnError("NOT_FOUND", "no such session");
          for (const f of p.files) s.staged.set(f.fileId.toString("hex"), { ...f, seq: 0, time: 0 });
          return { staged: s.staged.size };
        },
        commit: (p) => {
          const a = archive as DevArchive;
          const s = a.sessions.get(p.sessionId);
          if (!s) throw new CairnError("NOT_FOUND", "no such session");
          const head = a.versions.at(-1);
          if (p.seq !== (head?.seq ?? 0) + 1) throw new CairnError("CONFLICT", "wrong seq");
          const missing: string[] = [];
          for (const f of s.staged.values())
            for (let o = 0; o < f.blocks.length; o += 32)
              if (!a.blocks.has(f.blocks.toString("hex", o, o + 32))) missing.push(f.blocks.toString("hex", o, o + 32));
          if (missing.length) throw new CairnError("BLOCKS_MISSING", "blocks missing", { details: { missing: missing.slice(0, 10) } });
          const t = now();
          for (const f of s.staged.values()) a.files.push({ ...f, seq: p.seq, time: t });
          a.versions.push({
            seq: p.seq,
            time: t,
            clientTime: p.clientTime,
            manifestHash: p.manifestHash,
            manifest: p.manifest,
            changedFiles: s.staged.size,
            complete: p.complete,
          });
          a.sessions.delete(p.sessionId);
          return { seq: p.seq, versionTime: t };
        },
        "renew-lease": () => ({ leaseExpiresAt: clock + 60_000 }),
        "end-session": (p) => {
          (archive as DevArchive).sessions.delete(p.sessionId);
          return {};
        },
        "list-versions": () => ({ versions: (archive as DevArchive).versions.map(({ manifest: _m, ...v }) => v) }),
        "get-manifest": (p) => {
          const v = (archive as DevArchive).versions.find((x) => x.seq === p.seq);
          if (!v) throw new CairnError("NOT_FOUND", "no such version");
          return { manifest: v.manifest, manifestHash: v.manifestHash };
        },
        "list-files": (p) => {
          const newest = new Map<string, FileV>();
          for (const f of (archive as DevArchive).files) if (p.at === null || f.time <= p.at) newest.set(f.fileId.toString("hex"), f);
          const all = [...newest.values()].filter((f) => p.includeDeleted || !f.deleted);
          const start = p.cursor ? Number(p.cursor) : 0;
          const files = all.slice(start, start + p.limit);
          return { files, cursor: start + p.limit < all.length ? String(start + p.limit) : null };
        },
        "file-history": (p) => ({ versions: (archive as DevArchive).files.filter((f) => f.fileId.equals(p.fileId)) }),
        get: (p, ctx) => {
          const a = archive as DevArchive;
          let n = 0;
          for (let o = 0; o < p.ids.length; o += 32) {
            const id = p.ids.subarray(o, o + 32);
            const b = a.blocks.get(id.toString("hex"));
            ctx.sendBlock(id, b ?? null, b ? null : { code: "NOT_FOUND", message: "no such block" });
            n++;
          }
          return { count: n };
        },
      },
    });
    ws.on("message", (d) => peer.receive(toBuffer(d as Buffer)));
    ws.on("close", () => peer.close());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `wss://127.0.0.1:${port}/v1/data`,
    fingerprint: certFingerprint(pems.cert),
    archive: arch,
    received: () => received,
    dropAll: () => {
      for (const s of sockets) s.terminate();
    },
    close: async () => {
      for (const s of sockets) s.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
