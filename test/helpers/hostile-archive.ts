/**
 * RELIABILITY.md H6, a malicious agent: commits one more version into a device's archive with
 * entries whose metadata names hostile paths (`../../etc/x`, backslashes, NUL, look-alike dots…),
 * written straight over the data channel with the archive's real key and a storage token the
 * test signs with the authority's key, as a compromised device could. Entries are empty files
 * (their names are what the test is about); a `content` entry carries one block.
 */
import type { TestAuthority } from "@cairn/authority/testing";
import { DataSession } from "@cairn/agent";
import {
  chunkId,
  deriveArchiveKeys,
  encodeFrame,
  DATA_CHANNEL,
  fileIdFor,
  sealBlock,
  sealFileMeta,
  sealManifest,
  sha256,
  signToken,
  systemClock,
  unwrapKey,
  wrapContext,
} from "@cairn/protocol";
import { pino } from "pino";

/** One entry to commit. */
export interface HostileEntry {
  path: string;
  type?: "file" | "dir" | "symlink";
  content?: Buffer;
  target?: string;
}

/** Commits a version with `entries` into the device's first archive; returns its archive GUID. */
export async function commitHostileVersion(a: TestAuthority, deviceGuid: string, entries: readonly HostileEntry[]): Promise<string> {
  const ctx = a.ctx;
  const device = await ctx.store.getDeviceByGuid(deviceGuid);
  if (device === undefined) throw new Error("no such device");
  const archive = (await ctx.store.archivesOfDevices([device.deviceId]))[0];
  if (archive === undefined || archive.wrappedArchiveKey === null || archive.serverFingerprint === null) throw new Error("the device has no usable archive");
  const uk = await ctx.store.getUserKey(archive.userId);
  if (uk?.escrowWrapped == null) throw new Error("the archive's user key is not escrowed");
  const userKey = unwrapKey(ctx.keys.escrowKek, uk.escrowWrapped, wrapContext.userKey(archive.userUid, uk.keyVersion));
  const ak = unwrapKey(userKey, archive.wrappedArchiveKey, wrapContext.archiveKey(archive.userUid, archive.archiveGuid, archive.keyVersion));
  const keys = deriveArchiveKeys(ak, archive.archiveGuid);
  const token = signToken(
    {
      typ: "storage",
      iss: ctx.authorityGuid,
      sub: deviceGuid,
      aud: archive.destinationGuid,
      dev: deviceGuid,
      usr: archive.userUid,
      org: archive.orgUid,
      arc: archive.archiveGuid,
      dst: archive.destinationGuid,
      scope: "all",
    },
    ctx.keys.signing,
    systemClock,
    600_000,
  );
  const url = `${(archive.serverUrls[0] as string).replace(/\/+$/, "")}/v1/data`;
  const session = new DataSession({
    endpoint: { archiveGuid: archive.archiveGuid, url, fingerprint: archive.serverFingerprint, token },
    mode: "backup",
    agentVersion: "hostile-0",
    clock: systemClock,
    logger: pino({ level: "silent" }),
  });
  const opened = await session.open();
  try {
    const staged = [];
    let bytes = 0;
    for (const e of entries) {
      const fileId = fileIdFor(keys, e.path);
      const content = e.content ?? Buffer.alloc(0);
      const blocks: Buffer[] = [];
      if (content.length > 0) {
        const id = chunkId(keys, content);
        const sealed = sealBlock(keys, id, content);
        session.put(id.toString("latin1"), encodeFrame(DATA_CHANNEL.id, { type: "put", id, sha: sha256(sealed), data: sealed }));
        blocks.push(id);
      }
      bytes += content.length;
      const meta = sealFileMeta(keys, fileId, {
        path: e.path,
        type: e.type ?? "file",
        mode: 0o644,
        mtimeMs: systemClock.now(),
        size: content.length,
        blockSizes: content.length > 0 ? [content.length] : [],
        ...(e.target !== undefined ? { target: e.target } : {}),
      });
      staged.push({ fileId, deleted: false, size: content.length, blocks: Buffer.concat(blocks), meta });
    }
    await session.flush();
    await session.call("stage-files", { sessionId: session.sessionId as string, files: staged });
    const seq = (opened.head?.seq ?? 0) + 1;
    const m = sealManifest(keys, {
      v: 1,
      archiveGuid: archive.archiveGuid,
      seq,
      prevManifestHash: opened.head?.manifestHash ?? null,
      createdClient: systemClock.now(),
      files: entries.length,
      bytes,
      changedFiles: entries.length,
      complete: "yes",
    });
    await session.call("commit", {
      sessionId: session.sessionId as string,
      seq,
      prevManifestHash: opened.head?.manifestHash ?? null,
      manifest: m.blob,
      manifestHash: m.hash,
      clientTime: systemClock.now(),
      stats: { selectedFiles: entries.length, selectedBytes: bytes, todoFiles: 0, todoBytes: 0 },
      complete: true,
    });
  } finally {
    await session.close();
  }
  return archive.archiveGuid;
}
