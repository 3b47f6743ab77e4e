/**
 * Storage-token checks for `wss://N/v1/data`, done in the HTTP upgrade handler (RELIABILITY.md
 * §5.8). The token names its archive (`arc`); the node finds the namespaces that hold an archive
 * of that GUID and verifies the signature with each namespace's trusted keys only, so a token
 * signed by tenant X's authority can never open tenant Y's (or the own authority's) archive. The
 * token's destination must be the placement's, and revocations are applied at once.
 */
import { CairnError, type Clock, importPublicKey, isCairnError, isGuid, type StorageClaims, verifyToken } from "@cairn/protocol";
import type { KeyObject } from "node:crypto";
import type { ArchiveRow, NodeDb } from "./node-db.js";

/** An authenticated data connection's identity. */
export interface StorageAuth {
  claims: StorageClaims;
  ns: string;
  row: ArchiveRow;
}

function peekArchive(token: string): string | null {
  const body = token.split(".")[1];
  if (!body || body.length > 4096) return null;
  try {
    const c = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as { arc?: unknown };
    return isGuid(c.arc) ? c.arc : null;
  } catch {
    return null;
  }
}

/** Verifies a storage token against the archive's namespace. Throws TOKEN_INVALID, TOKEN_EXPIRED or TOKEN_REVOKED. */
export function authenticateStorage(token: string, db: NodeDb, clock: Clock): StorageAuth {
  const arc = peekArchive(token);
  const rows = arc ? db.archivesByGuid(arc) : [];
  let expired: CairnError | null = null;
  for (const row of rows) {
    const keys = new Map<string, KeyObject>();
    for (const k of db.keys(row.ns)) {
      try {
        keys.set(k.kid, importPublicKey(k));
      } catch {
        // a malformed stored key verifies nothing
      }
    }
    let claims: StorageClaims;
    try {
      claims = verifyToken<StorageClaims>(token, (kid) => keys.get(kid), clock, { typ: "storage" });
    } catch (err) {
      if (isCairnError(err, "TOKEN_EXPIRED")) expired = err;
      continue;
    }
    if (claims.arc !== row.guid || claims.dst !== row.placement.destinationGuid || !["backup", "restore", "all"].includes(claims.scope)) {
      continue;
    }
    checkRevoked(db, row.ns, claims, "all");
    return { claims, ns: row.ns, row };
  }
  throw expired ?? new CairnError("TOKEN_INVALID", "the storage token is not valid for this node");
}

/** Throws TOKEN_REVOKED when a revocation covers this token for `use` ("all" checks full revocations only). */
export function checkRevoked(db: NodeDb, ns: string, claims: StorageClaims, use: "all" | "backup" | "restore"): void {
  for (const r of db.revocationsFor(ns, claims.dev, claims.usr)) {
    if (claims.iat * 1000 >= r.before) continue;
    if (r.scope === "all" || (r.scope === "restore" && use === "restore")) {
      const what = r.kind === "device" ? "this device" : "this user";
      throw new CairnError("TOKEN_REVOKED", r.scope === "all" ? `${what} was deauthorized or deactivated` : `restores are blocked for ${what}`);
    }
  }
}
