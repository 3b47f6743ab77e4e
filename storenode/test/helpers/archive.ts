import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { type ArchivePlacement, sha256 } from "@cairn/protocol";
import { DataClient, storageToken, type TestBlock } from "../../src/testing.js";
import type { NodeFixture } from "./node.js";

const stats = { selectedFiles: 0, selectedBytes: 0, todoFiles: 0, todoBytes: 0 };

/** Opens a backup session on a freshly placed (or given) archive. */
export async function backupClient(fx: NodeFixture, p: ArchivePlacement, place = true): Promise<{ c: DataClient; sessionId: string }> {
  if (place) await fx.tenant.peer.call("place-archive", p);
  const c = await DataClient.connect(fx.node.url, storageToken(fx.key, p, fx.clock));
  const o = await c.peer.call("open", { archiveGuid: p.archiveGuid, mode: "backup", sessionId: null, agentVersion: "test" });
  return { c, sessionId: o.sessionId };
}

/** A restore connection. */
export async function restoreClient(fx: NodeFixture, p: ArchivePlacement): Promise<DataClient> {
  const c = await DataClient.connect(fx.node.url, storageToken(fx.key, p, fx.clock));
  await c.peer.call("open", { archiveGuid: p.archiveGuid, mode: "restore", sessionId: null, agentVersion: "test" });
  return c;
}

/** Stages files (one per block list) and commits the next version; returns seq and manifest hash. */
export async function commitFiles(c: DataClient, sessionId: string, files: { fileId?: Buffer; blocks: TestBlock[]; deleted?: boolean }[]) {
  const head = (await c.peer.call("list-versions", {})).versions.at(-1);
  if (files.length > 0) {
    await c.peer.call("stage-files", {
      sessionId,
      files: files.map((f) => ({
        fileId: f.fileId ?? randomBytes(16),
        deleted: f.deleted ?? false,
        size: f.blocks.reduce((n, b) => n + b.data.length, 0),
        blocks: Buffer.concat(f.blocks.map((b) => b.id)),
        meta: f.deleted ? null : randomBytes(48),
      })),
    });
  }
  const manifest = randomBytes(96);
  return c.peer.call("commit", {
    sessionId,
    seq: (head?.seq ?? 0) + 1,
    prevManifestHash: head?.manifestHash ?? null,
    manifest,
    manifestHash: sha256(manifest),
    clientTime: 0,
    stats,
    complete: true,
  });
}

/** The archive directory of a tenant archive on the fixture's store point. */
export function archiveDir(fx: NodeFixture, archiveGuid: string): string {
  return join(fx.storePoint, "archives", fx.tenant.tenantId, archiveGuid);
}

/** Where a block lives: its pack file and data offset (read from the archive's index, read-only). */
export function blockLocation(fx: NodeFixture, archiveGuid: string, id: Buffer): { path: string; offset: number; length: number } {
  const dir = archiveDir(fx, archiveGuid);
  const db = new Database(join(dir, "index.db"), { readonly: true, fileMustExist: true });
  try {
    const r = db.prepare<[Buffer], { pack: number; offset: number; length: number }>("SELECT pack, offset, length FROM bs_blocks WHERE id = ?").get(id);
    if (!r) throw new Error("no such block");
    const sub = Math.floor(r.pack / 256)
      .toString(16)
      .padStart(6, "0");
    return { path: join(dir, "packs", sub, `${r.pack.toString(16).padStart(16, "0")}.pack`), offset: r.offset, length: r.length };
  } finally {
    db.close();
  }
}

/** Every file under a directory (relative paths). */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name), join(rel, e.name));
      else out.push(join(rel, e.name));
    }
  };
  walk(dir, "");
  return out;
}
