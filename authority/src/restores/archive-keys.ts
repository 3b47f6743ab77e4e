/**
 * Opening an archive's key on the server for one restore (DECISIONS.md "Keys and restores"):
 * the archive key (AK) is wrapped by its user's key (UK); the server obtains UK only
 * - under the escrow policy, from the escrow KEK;
 * - under the password policy, from the archive password the caller sends in the restore
 *   session (PRIVATE_PASSWORD_INVALID when missing or wrong);
 * - under the custom policy, from the custom key the caller sends (CUSTOM_KEY_INVALID);
 * - never when the org's key policy is now stronger than the user's record (raised after the
 *   user registered): the escrowed copy is not used, whatever the caller sends.
 * The secret and the keys live only in memory for that restore; nothing here logs or stores them.
 */
import {
  type ArchiveKeys,
  CairnError,
  deriveArchiveKeys,
  isCairnError,
  KEY_BYTES,
  type KeyPolicy,
  unwrapKey,
  unwrapKeyWithPassword,
  wrapContext,
} from "@cairn/protocol";
import type { UserKeyRecord } from "../db/records.js";
import { keyPolicyRefusal } from "../users/user-keys.js";

/** What the caller supplied in the session (either may be null). */
export interface RestoreSecret {
  privatePassword: string | null;
  encryptionKey: string | null;
}

/** The wrapped archive key and who it belongs to. */
export interface WrappedArchiveKey {
  archiveGuid: string;
  /** The user whose key wraps the archive key. */
  userUid: string;
  wrapped: Buffer | null;
  keyVersion: number;
}

/** A custom key as the caller sends it: 64 hex characters, or base64 / base64url of 32 bytes. */
export function parseCustomKey(s: string): Buffer | null {
  const t = s.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, "hex");
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) {
    const b = Buffer.from(t.replace(/-/g, "+").replace(/_/g, "/"), "base64");
    return b.length === KEY_BYTES ? b : null;
  }
  return null;
}

function userKey(escrowKek: Buffer, uk: UserKeyRecord, userUid: string, secret: RestoreSecret): Buffer {
  const ctx = wrapContext.userKey(userUid, uk.keyVersion);
  switch (uk.keyPolicy) {
    case "escrow":
      if (uk.escrowWrapped === null) throw new CairnError("INTERNAL", "the escrowed user key is missing");
      return unwrapKey(escrowKek, uk.escrowWrapped, ctx);
    case "password":
      if (secret.privatePassword === null || secret.privatePassword === "" || uk.passwordWrapped === null)
        throw new CairnError("PRIVATE_PASSWORD_INVALID", "PRIVATE_PASSWORD_INVALID: the archive password is missing or wrong");
      try {
        return unwrapKeyWithPassword(secret.privatePassword, uk.passwordWrapped, ctx);
      } catch (err) {
        if (isCairnError(err, "DECRYPT_FAILED"))
          throw new CairnError("PRIVATE_PASSWORD_INVALID", "PRIVATE_PASSWORD_INVALID: the archive password is missing or wrong");
        throw err;
      }
    case "custom": {
      const k = secret.encryptionKey === null ? null : parseCustomKey(secret.encryptionKey);
      if (k === null) throw new CairnError("CUSTOM_KEY_INVALID", "CUSTOM_KEY_INVALID: the custom encryption key is missing or wrong");
      return k;
    }
  }
}

/**
 * The archive key, or the platform's error. NOT_FOUND when the archive has no key (purged, or
 * never backed up): nobody can restore it. `orgPolicy` is the effective key policy of the user's
 * org now: when it is stronger than the policy the user's key record was made under (the org's
 * policy was raised after the user registered), the server decrypts nothing with that record
 * (PRIVATE_PASSWORD_INVALID / CUSTOM_KEY_INVALID, users/user-keys.ts).
 */
export function openArchiveKey(
  escrowKek: Buffer,
  uk: UserKeyRecord | undefined,
  archive: WrappedArchiveKey,
  secret: RestoreSecret,
  orgPolicy: KeyPolicy,
): Buffer {
  if (archive.wrapped === null) throw new CairnError("NOT_FOUND", "The archive has no key: it was purged, or it holds no backup yet");
  if (uk === undefined) throw new CairnError("NOT_FOUND", "The archive's user has no key");
  const refusal = keyPolicyRefusal(orgPolicy, uk);
  if (refusal !== null) throw refusal;
  const k = userKey(escrowKek, uk, archive.userUid, secret);
  try {
    return unwrapKey(k, archive.wrapped, wrapContext.archiveKey(archive.userUid, archive.archiveGuid, archive.keyVersion));
  } catch (err) {
    if (!isCairnError(err, "DECRYPT_FAILED")) throw err;
    if (uk.keyPolicy === "custom") throw new CairnError("CUSTOM_KEY_INVALID", "CUSTOM_KEY_INVALID: the custom encryption key is missing or wrong");
    if (uk.keyPolicy === "password") throw new CairnError("PRIVATE_PASSWORD_INVALID", "PRIVATE_PASSWORD_INVALID: the archive password is missing or wrong");
    throw new CairnError("INTEGRITY", "the archive key does not unwrap with the escrowed user key", { cause: err });
  } finally {
    k.fill(0);
  }
}

/** The subkeys of an opened archive key. */
export function archiveKeysOf(ak: Buffer, archiveGuid: string): ArchiveKeys {
  return deriveArchiveKeys(ak, archiveGuid);
}

/** Overwrites key material that is no longer needed. */
export function wipe(ak: Buffer | null, keys: ArchiveKeys | null): void {
  ak?.fill(0);
  if (keys) for (const b of [keys.id, keys.cdc, keys.enc, keys.meta, keys.path]) b.fill(0);
}
