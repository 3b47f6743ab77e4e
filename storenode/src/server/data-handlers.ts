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
import type { BlockStore } from "../blockstore/blockstore.js";
import { BlockFramer } from "./block-frame.js";
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
      // one lease, one writer (T12): a session resumed here is cut from any other connection
      // still holding it (a clone of the device's data folder), which would interleave its writes
      if (opened.resumed)
        for (const other of ctx.hub.onArchive(c.ns, p.archiveGuid))
          if (other !== c && other.mode === "backup" && other.sessionId === opened.sessionId) {
            c.log.warn({ sessionId: opened.sessionId }, "backup session resumed by another connection: the older one is closed");
            other.close(4409, "the backup session was resumed by another connection");
          }
      c.attach(a);
      c.mode = p.mode;
      c.sessionId = opened.sessionId;
      const head = a.catalog.head();
      c.log.debug({ mode: p.mode, resumed: opened.resumed }, "archive opened");
      // blocks a verification found damaged while this device was away: it is asked to re-send
      // them now (T07: heal at the next backup, not only while a backup happens to be running)
      if (p.mode === "backup") {
        const damaged = a.store.damagedIds(4 * 4096);
        if (damaged.length > 0) {
          c.log.warn({ damagedBlocks: damaged.length }, "asking the device to re-send damaged blocks");
          setImmediate(() => {
            try {
              c.heal(Buffer.concat(damaged));
            } catch (err) {
              c.log.warn({ err }, "the heal request did not reach the device (it went away)");
            }
          });
        }
      }
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
      return { count: await streamBlocks(a, p.ids, call, (f) => c.ws.send(f)) };
    },
  };
}

/** Blocks read ahead of the socket per `get` stream, and the bytes they may hold. */
export const READ_AHEAD_BLOCKS = 16;
export const READ_AHEAD_BYTES = 8 * 1024 * 1024;

type Read = { id: Buffer; length: number; frame: Buffer | null; error: CairnError | null };

/**
 * Streams blocks as `block` frames, in order, reading up to {@link READ_AHEAD_BLOCKS} blocks
 * ({@link READ_AHEAD_BYTES}) ahead of the socket (topped up when half of them are sent, so that
 * the store can merge reads of adjacent blocks) and waiting for it to drain after each frame.
 * Each block is read straight into its data-channel frame ({@link BlockFramer}) and sent with
 * `sendFrame` (without it, e.g. on a control channel, through the codec); a block that cannot be
 * served gets a codec-encoded frame with its error.
 */
export async function streamBlocks(
  a: { store: Pick<BlockStore, "read"> },
  ids: Buffer,
  call: {
    reqId: number;
    signal: AbortSignal;
    sendBlock(id: Uint8Array, data: Uint8Array | null, error?: WireError | null): void;
    drain(): Promise<void>;
  },
  sendFrame?: (frame: Buffer) => void,
): Promise<number> {
  const framer = new BlockFramer(call.reqId);
  const room = { before: (length: number) => framer.headBytes(length), after: BlockFramer.tailBytes };
  const ahead: Promise<Read>[] = [];
  let aheadBytes = 0;
  let next = 0;
  const start = (): void => {
    const id = ids.subarray(next, next + 32);
    next += 32;
    try {
      const r = a.store.read(id, room);
      aheadBytes += r.length;
      ahead.push(
        r.done.then(
          (frame) => ({ id, length: r.length, frame, error: null }),
          (err: unknown) => ({ id, length: r.length, frame: null, error: asStoreError(err) }),
        ),
      );
    } catch (err) {
      ahead.push(Promise.resolve({ id, length: 0, frame: null, error: asStoreError(err) }));
    }
  };
  let count = 0;
  while (next < ids.length || ahead.length > 0) {
    // Refilled when half empty, several reads at once: the store merges adjacent ones.
    if (ahead.length <= READ_AHEAD_BLOCKS / 2) {
      while (next < ids.length && (ahead.length === 0 || (ahead.length < READ_AHEAD_BLOCKS && aheadBytes < READ_AHEAD_BYTES))) start();
    }
    const r = await (ahead.shift() as Promise<Read>);
    aheadBytes -= r.length;
    if (call.signal.aborted) throw new CairnError("CANCELLED", "connection closed");
    if (r.frame && r.length <= MAX_SEALED_BLOCK_BYTES) {
      if (sendFrame) sendFrame(framer.frame(r.frame, r.id, r.length));
      else call.sendBlock(r.id, r.frame.subarray(room.before(r.length), room.before(r.length) + r.length));
      count++;
    } else {
      const e = r.error ?? new CairnError("INTEGRITY", "stored block is too large");
      call.sendBlock(r.id, null, { code: e.code, message: e.message });
    }
    await call.drain();
  }
  return count;
}

function asStoreError(err: unknown): CairnError {
  return err instanceof CairnError ? err : new CairnError("STORE_IO", "reading the block failed", { cause: err });
}
