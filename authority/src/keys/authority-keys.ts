/**
 * The authority's key material: the token-signing key (EdDSA, for user JWTs and the storage
 * tokens storage nodes verify offline), earlier signing keys still trusted for verification, and
 * the escrow KEK that wraps user keys and, through derived keys, seals TOTP seeds and provider
 * secrets. Kept in `<data>/keys/` with mode 0600, never in SQLite (RELIABILITY.md §5.6).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { KeyObject } from "node:crypto";
import { join } from "node:path";
import {
  CairnError,
  exportSigningKey,
  generateKey,
  generateSigningKey,
  importSigningKey,
  KEY_BYTES,
  type PublicKeyInfo,
  publicKeyInfo,
  type SigningKey,
} from "@cairn/protocol";

/** Keys in memory. */
export interface AuthorityKeys {
  /** The current signing key. */
  signing: SigningKey;
  /** Every key whose signatures are still accepted, by key id (the current one included). */
  verifying: ReadonlyMap<string, KeyObject>;
  /** Public halves, for storage nodes and tenants. */
  publicKeys: PublicKeyInfo[];
  /** The 32-byte escrow key-encryption key. */
  escrowKek: Buffer;
}

/** Files under `<data>/keys/`. */
export const KEY_FILES = {
  signing: "signing-keys.json",
  escrow: "escrow.key",
  tlsKey: "tls.key",
  tlsCert: "tls.crt",
} as const;

/** Builds in-memory keys from a signing key list (current first) and a KEK. */
export function keysFrom(signing: readonly SigningKey[], escrowKek: Buffer): AuthorityKeys {
  const current = signing[0];
  if (current === undefined) throw new CairnError("CONFIG_INVALID", "no signing key");
  if (escrowKek.length !== KEY_BYTES) throw new CairnError("CONFIG_INVALID", "the escrow key must be 32 bytes");
  return {
    signing: current,
    verifying: new Map(signing.map((k) => [k.kid, k.publicKey])),
    publicKeys: signing.map(publicKeyInfo),
    escrowKek,
  };
}

/** Fresh keys (tests, and `init`). */
export function generateAuthorityKeys(): AuthorityKeys {
  return keysFrom([generateSigningKey()], generateKey());
}

/** Writes `data` to `file` with mode 0600, atomically (temp file, then rename). */
export function writeSecretFile(file: string, data: string | Buffer): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/** The keys folder of a data directory, created with mode 0700. */
export function keysDir(dataDir: string): string {
  const dir = join(dataDir, "keys");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  return dir;
}

/** Saves signing keys and the KEK into `<data>/keys/`. */
export function saveAuthorityKeys(dataDir: string, keys: { signing: readonly SigningKey[]; escrowKek: Buffer }): void {
  const dir = keysDir(dataDir);
  writeSecretFile(join(dir, KEY_FILES.signing), `${JSON.stringify({ keys: keys.signing.map(exportSigningKey) }, null, 2)}\n`);
  writeSecretFile(join(dir, KEY_FILES.escrow), `${keys.escrowKek.toString("base64")}\n`);
}

/** Loads the keys saved by {@link saveAuthorityKeys}; throws CONFIG_INVALID. */
export function loadAuthorityKeys(dataDir: string): AuthorityKeys {
  const dir = join(dataDir, "keys");
  const signingFile = join(dir, KEY_FILES.signing);
  const escrowFile = join(dir, KEY_FILES.escrow);
  if (!existsSync(signingFile) || !existsSync(escrowFile)) {
    throw new CairnError("CONFIG_INVALID", `no authority keys in ${dir}: run \`cairn authority init --data ${dataDir}\` first`);
  }
  try {
    const parsed = JSON.parse(readFileSync(signingFile, "utf8")) as { keys: { kid: string; privateKey: string }[] };
    const kek = Buffer.from(readFileSync(escrowFile, "utf8").trim(), "base64");
    return keysFrom(parsed.keys.map(importSigningKey), kek);
  } catch (cause) {
    if (cause instanceof CairnError) throw cause;
    throw new CairnError("CONFIG_INVALID", `the authority keys in ${dir} cannot be read`, { cause });
  }
}
