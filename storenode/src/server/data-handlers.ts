/**
 * The data channel's methods (protocol/src/messages/data.ts), served for one connection.
 */
import {
  CairnError,
  type dataNodeMethods,
  type Handlers,
  MAX_SEALED_BLOCK_BYTES,
  newOpaqueId,
  type StorageClaims,
  splitBlockIds,
  type WireError,
} from "@cairn/protocol";
import { checkRevoked } from "../auth.js";
import type { DataConnection } from "./data-connection.js";

function requireScope(claims: StorageClaims, mode: "backup" | "restore"): void {
  if (claims.scope !== "all" && claims.scope !== mode) throw new CairnError("FORBIDDEN", `the storage token does not allow ${mode}`);
}

/** Builds the handlers for one connection. */
export function dataHandlers(c: DataConnection): Handlers<typeof dataNodeMethods> {
  const { ctx, claims } = c;
  const session = (sessionId: string): string => {
    if (c.mode !== "backup" || c.sessionId !== sessionId) throw new CairnError("PROTOCOL_UNEXPECTED", "not this connection's backup session");
    return sessionId;
  };
  return {
    async open(p) {
      if (p.archiveGuid !== claims.arc || !ctx.registry.row(c.ns, p.archiveGuid)) throw new CairnError("NOT_FOUND", "no such archive");
      if (claims.exp * 1000 <= ctx.clock.now()) throw new CairnError("TOKEN_EXPIRED", "token has expired");
      requireScope(claims, p.mode);
      checkRevoked(ctx.db, c.ns, claims, p.mode);
      const a = await ctx.registry.get(c.ns, p.archiveGuid);
      if (!a) throw new CairnError("NOT_FOUND", "no such archive");
      const placement = a.placement;
      let opened = { sessionId: newOpaqueId(), leaseExpiresAt: null as number | null, staged: 0, resumed: false };
      if (p.mode === "backup") {
        if (placement.cold) throw new CairnError("ARCHIVE_COLD", "the archive is in cold storage: no new backups");
        if (claims.dev !== placement.deviceGuid) throw new CairnError("FORBIDDEN", "only the archive's device backs up to it");
        opened = a.sessions.open(claims.dev, p.sessionId, c.mode === "backup" ? c.sessionId : null);
      }
      c.attach(a);
      c.mode = p.mode;
      c.sessionId = opened.sessionId;
      const head = a.catalog.head();
      c.log.debug({ mode: p.mode, resumed: opened.resumed }, "archive opened");
      return {
        ...opened,
        head: head ? { seq: head.seq, manifestHash: head.manifestHash, time: head.time } : null,
        serverTime: ctx.clock.now(),
        quotaBytes: placement.quotaBytes,
        usedBytes: a.usedBytes(),
        retention: placement.retention,
      };
    },

    have(p) {
      const a = c.requireArchive();
      const ids = splitBlockIds(p.ids);
      const present = Buffer.alloc(Math.ceil(ids.length / 8));
      const held: Buffer[] = [];
      for (let i = 0; i < ids.length; i++) {
        const id = p.ids.subarray(i * 32, i * 32 + 32);
        if (!a.store.has(id)) continue;
        present[i >> 3] = (present[i >> 3] as number) | (0x80 >> (i & 7));
        held.push(id);
      }
      // T13: a block reported present to a backup session is protected from GC until it ends.
      if (c.mode === "backup" && c.sessionId && held.length > 0) a.sessions.protect(c.sessionId, held);
      return { present };
    },

    "stage-files"(p) {
      const a = c.requireArchive();
      a.sessions.requireLease(session(p.sessionId));
      return { staged: a.sessions.stage(p.sessionId, p.files) };
    },

    commit(p) {
      const a = c.requireArchive();
      const r = a.commit(session(p.sessionId), p);
      ctx.registry.saveReport(c.ns, a);
      const row = ctx.registry.row(c.ns, a.placement.archiveGuid);
      if (row) ctx.hub.archiveChanged(c.ns, a.report(ctx.registry.storePointIdFor(c.ns, row.storePointId)));
      c.log.info({ seq: r.seq }, "version committed");
      return r;
    },

    "renew-lease"(p) {
      const a = c.requireArchive();
      return { leaseExpiresAt: a.sessions.requireLease(session(p.sessionId), true) };
    },

    "end-session"(p) {
      const a = c.requireArchive();
      if (c.mode === "backup" && c.sessionId === p.sessionId) {
        a.endSession(p.sessionId, p.abort);
        c.sessionId = null;
      }
      return {};
    },

    "list-versions"() {
      return { versions: c.requireArchive().catalog.versions() };
    },

    "get-manifest"(p) {
      const m = c.requireArchive().catalog.manifest(p.seq);
      if (!m) throw new CairnError("NOT_FOUND", `no version ${p.seq}`);
      return m;
    },

    "list-files"(p) {
      return c.requireArchive().catalog.listFiles(p.at, p.cursor, p.limit, p.includeDeleted);
    },

    "file-history"(p) {
      return { versions: c.requireArchive().catalog.fileHistory(p.fileId) };
    },

    async get(p, call) {
      const a = c.requireArchive();
      requireScope(claims, "restore");
      checkRevoked(ctx.db, c.ns, claims, "restore");
      return { count: await streamBlocks(a, p.ids, call) };
    },
  };
}

/** Streams blocks as `block` frames, one at a time, waiting for the socket to drain. */
export async function streamBlocks(
  a: { store: { get(id: Buffer): Promise<Buffer> } },
  ids: Buffer,
  call: { signal: AbortSignal; sendBlock(id: Uint8Array, data: Uint8Array | null, error?: WireError | null): void; drain(): Promise<void> },
): Promise<number> {
  let count = 0;
  for (let o = 0; o < ids.length; o += 32) {
    if (call.signal.aborted) throw new CairnError("CANCELLED", "connection closed");
    const id = ids.subarray(o, o + 32);
    try {
      const data = await a.store.get(id);
      if (data.length > MAX_SEALED_BLOCK_BYTES) throw new CairnError("INTEGRITY", "stored block is too large");
      call.sendBlock(id, data);
      count++;
    } catch (err) {
      const e = err instanceof CairnError ? err : new CairnError("STORE_IO", "reading the block failed", { cause: err });
      call.sendBlock(id, null, { code: e.code, message: e.message });
    }
    await call.drain();
  }
  return count;
}
