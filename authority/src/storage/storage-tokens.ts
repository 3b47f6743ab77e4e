/**
 * Storage tokens (docs/architecture.md "Identities and credentials"): EdDSA JWTs the authority
 * signs and storage nodes verify offline with its public key. One token names one device, user,
 * org, archive and destination; it lasts the org's `general.storageTokenTtlMs` (7 days by
 * default, DECISIONS.md). Scope `all` (backup and restore), or `restore` only while the
 * archive's store point does not accept data.
 */
import { type Clock, type PublicKeyInfo, signToken } from "@cairn/protocol";
import type { KeyObject } from "node:crypto";
import type { KeysLike } from "../keys/keys-like.js";

/** What a token is for. */
export interface StorageTokenSubject {
  deviceGuid: string;
  userUid: string;
  orgUid: string;
  archiveGuid: string;
  destinationGuid: string;
  scope: "backup" | "restore" | "all";
}

/** A signed token and when it expires (epoch ms). */
export interface IssuedToken {
  token: string;
  expiresAt: number;
}

/** Signs a storage token. */
export function issueStorageToken(keys: KeysLike, authorityGuid: string, clock: Clock, s: StorageTokenSubject, ttlMs: number): IssuedToken {
  const token = signToken(
    {
      typ: "storage",
      iss: authorityGuid,
      sub: s.deviceGuid,
      aud: s.destinationGuid,
      dev: s.deviceGuid,
      usr: s.userUid,
      org: s.orgUid,
      arc: s.archiveGuid,
      dst: s.destinationGuid,
      scope: s.scope,
    },
    keys.signing,
    clock,
    ttlMs,
  );
  // signToken rounds to whole seconds from the clock: report the same instant
  const expiresAt = (Math.floor(clock.now() / 1000) + Math.ceil(ttlMs / 1000)) * 1000;
  return { token, expiresAt };
}

/** The public halves of every key that still verifies, for storage nodes and tenants. */
export function publicKeysOf(keys: KeysLike): PublicKeyInfo[] {
  return [...keys.verifying.entries()].map(([kid, k]: [string, KeyObject]) => ({ kid, publicKey: String(k.export({ format: "jwk" }).x) }));
}
