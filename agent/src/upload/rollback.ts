/**
 * Rollback and fork detection (RELIABILITY.md T20). The agent remembers, per archive, the seq
 * and manifest hash of the last version it committed or verified. On `open` the head the node
 * reports must be that version or a descendant of it: a lower seq, a missing head, the same seq
 * with another hash, or a chain that does not link back to the remembered hash is refused with
 * ROLLBACK_DETECTED, and the next backup is not based on it.
 */
import { type ArchiveKeys, CairnError, openManifest, sha256 } from "@cairn/protocol";
import type { DataSession } from "../net/data-session.js";

/** A version head as the node reports it. */
export interface Head {
  seq: number;
  manifestHash: Buffer;
}

/** Checks the node's head against what this device last saw; returns the head to build on. */
export async function checkHead(session: DataSession, keys: ArchiveKeys, head: Head | null, lastSeq: number, lastHash: Buffer | null): Promise<Head | null> {
  if (lastSeq === 0 || !lastHash) {
    if (head) await verifyManifest(session, keys, head.seq, head.manifestHash);
    return head;
  }
  if (!head || head.seq < lastSeq) {
    throw new CairnError("ROLLBACK_DETECTED", `the storage node reports version ${head?.seq ?? 0}, older than version ${lastSeq} this device committed`, {
      details: { reported: head?.seq ?? 0, known: lastSeq },
    });
  }
  if (head.seq === lastSeq) {
    if (!head.manifestHash.equals(lastHash)) {
      throw new CairnError("ROLLBACK_DETECTED", `the storage node reports another version ${lastSeq} than the one this device committed`, {
        details: { seq: lastSeq },
      });
    }
    return head;
  }
  // Newer versions (another run of this device that did not record its commit): walk the chain back.
  let expect = head.manifestHash;
  for (let seq = head.seq; seq > lastSeq; seq--) {
    const m = await verifyManifest(session, keys, seq, expect);
    if (!m.prevManifestHash) throw new CairnError("ROLLBACK_DETECTED", `version ${seq} does not link to version ${seq - 1}`);
    expect = m.prevManifestHash;
  }
  if (!expect.equals(lastHash)) throw new CairnError("ROLLBACK_DETECTED", `the version chain does not lead back to version ${lastSeq} this device committed`);
  return head;
}

async function verifyManifest(session: DataSession, keys: ArchiveKeys, seq: number, expectHash: Buffer): Promise<{ prevManifestHash: Buffer | null }> {
  const res = await session.call("get-manifest", { seq });
  if (!sha256(res.manifest).equals(expectHash) || !res.manifestHash.equals(expectHash)) {
    throw new CairnError("ROLLBACK_DETECTED", `the manifest of version ${seq} does not match its hash`);
  }
  let m: ReturnType<typeof openManifest>;
  try {
    m = openManifest(keys, seq, res.manifest);
  } catch (cause) {
    throw new CairnError("ROLLBACK_DETECTED", `the manifest of version ${seq} does not open with this archive's key`, { cause });
  }
  if (m.seq !== seq || m.archiveGuid !== keys.archiveGuid) throw new CairnError("ROLLBACK_DETECTED", `the manifest of version ${seq} belongs elsewhere`);
  return { prevManifestHash: m.prevManifestHash };
}
