/**
 * Signed, expiring tokens: compact JWS (RFC 7515) with EdDSA over Ed25519, so any JWT library
 * can read them. The authority signs; a storage node verifies offline with the authority's
 * public key (DECISIONS.md: device tokens last 7 days and are renewed long before). Time comes
 * from an injected {@link Clock}, never from the token's issuer.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, randomBytes, sign, verify } from "node:crypto";
import type { Clock } from "./clock.js";
import { CairnError } from "./errors.js";

/** Claims every Cairn token carries. */
export interface BaseClaims {
  /** Token type: what it authorizes. */
  typ: string;
  /** Issuer id (the authority's GUID). */
  iss: string;
  /** Subject (device GUID, user UID, …). */
  sub: string;
  /** Audience (destination GUID, server GUID, …). */
  aud?: string;
  /** Issued at, epoch seconds. */
  iat: number;
  /** Expires at, epoch seconds. */
  exp: number;
  /** Unique token id. */
  jti: string;
}

/** A storage token: lets one device back up to / restore from one archive on one destination. */
export interface StorageClaims extends BaseClaims {
  typ: "storage";
  /** Device GUID. */
  dev: string;
  /** User UID. */
  usr: string;
  /** Organization UID. */
  org: string;
  /** Archive GUID. */
  arc: string;
  /** Destination GUID. */
  dst: string;
  /** What the token allows. */
  scope: "backup" | "restore" | "all";
}

/** A signing key pair with its key id. */
export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** A public key as it travels: key id and raw 32-byte Ed25519 key in base64url. */
export interface PublicKeyInfo {
  kid: string;
  publicKey: string;
}

const MAX_TOKEN_CHARS = 4096;

/** Generates a fresh Ed25519 signing key. */
export function generateSigningKey(kid = randomBytes(8).toString("hex")): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { kid, privateKey, publicKey };
}

/** Serializes a signing key (PKCS#8 DER, base64) for a 0600 key file. */
export function exportSigningKey(k: SigningKey): { kid: string; privateKey: string } {
  return { kid: k.kid, privateKey: k.privateKey.export({ format: "der", type: "pkcs8" }).toString("base64") };
}

/** Reverses {@link exportSigningKey}. */
export function importSigningKey(s: { kid: string; privateKey: string }): SigningKey {
  const privateKey = createPrivateKey({ key: Buffer.from(s.privateKey, "base64"), format: "der", type: "pkcs8" });
  return { kid: s.kid, privateKey, publicKey: createPublicKey(privateKey) };
}

/** The public half, for peers. */
export function publicKeyInfo(k: SigningKey): PublicKeyInfo {
  const jwk = k.publicKey.export({ format: "jwk" });
  return { kid: k.kid, publicKey: String(jwk.x) };
}

/** Reconstructs a public key from {@link publicKeyInfo}. */
export function importPublicKey(p: PublicKeyInfo): KeyObject {
  if (!/^[A-Za-z0-9_-]{43}$/.test(p.publicKey)) throw new CairnError("TOKEN_INVALID", "malformed public key");
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: p.publicKey }, format: "jwk" });
}

function b64(o: unknown): string {
  return Buffer.from(JSON.stringify(o), "utf8").toString("base64url");
}

/**
 * Signs claims. `ttlMs` sets `exp` from `clock`; `iat` is always set from `clock`.
 */
export function signToken<C extends Omit<BaseClaims, "iat" | "exp" | "jti"> & Record<string, unknown>>(
  claims: C,
  key: SigningKey,
  clock: Clock,
  ttlMs: number,
): string {
  const now = Math.floor(clock.now() / 1000);
  const full = { ...claims, iat: now, exp: now + Math.ceil(ttlMs / 1000), jti: randomBytes(12).toString("base64url") };
  const head = b64({ alg: "EdDSA", typ: "JWT", kid: key.kid });
  const body = b64(full);
  const sig = sign(null, Buffer.from(`${head}.${body}`), key.privateKey).toString("base64url");
  return `${head}.${body}.${sig}`;
}

/** What {@link verifyToken} checks beyond the signature and expiry. */
export interface VerifyExpectations {
  typ: string;
  aud?: string;
  /** Allowed clock skew for `iat` in the future, ms (default 5 minutes). */
  leewayMs?: number;
}

/** Reads a token's header without verifying (to pick the key). */
export function peekTokenKid(token: string): string {
  if (typeof token !== "string" || token.length > MAX_TOKEN_CHARS) throw new CairnError("TOKEN_INVALID", "malformed token");
  const parts = token.split(".");
  if (parts.length !== 3) throw new CairnError("TOKEN_INVALID", "malformed token");
  try {
    const h = JSON.parse(Buffer.from(parts[0] as string, "base64url").toString("utf8")) as { alg?: unknown; kid?: unknown };
    if (h.alg !== "EdDSA" || typeof h.kid !== "string") throw new Error("bad header");
    return h.kid;
  } catch (cause) {
    throw new CairnError("TOKEN_INVALID", "malformed token header", { cause });
  }
}

/**
 * Verifies signature, type, audience and expiry against `clock`. `keys` maps a key id to the
 * public key trusted for it. Throws TOKEN_INVALID or TOKEN_EXPIRED.
 */
export function verifyToken<C extends BaseClaims = BaseClaims>(
  token: string,
  keys: (kid: string) => KeyObject | undefined,
  clock: Clock,
  expect: VerifyExpectations,
): C {
  const kid = peekTokenKid(token);
  const key = keys(kid);
  if (!key) throw new CairnError("TOKEN_INVALID", "token signed by an unknown key");
  const [h, b, s] = token.split(".") as [string, string, string];
  const ok = verify(null, Buffer.from(`${h}.${b}`), key, Buffer.from(s, "base64url"));
  if (!ok) throw new CairnError("TOKEN_INVALID", "token signature does not verify");
  let claims: C;
  try {
    claims = JSON.parse(Buffer.from(b, "base64url").toString("utf8")) as C;
  } catch (cause) {
    throw new CairnError("TOKEN_INVALID", "malformed token body", { cause });
  }
  if (typeof claims !== "object" || claims === null || typeof claims.exp !== "number" || typeof claims.iat !== "number") {
    throw new CairnError("TOKEN_INVALID", "token lacks iat/exp");
  }
  if (claims.typ !== expect.typ) throw new CairnError("TOKEN_INVALID", `token type ${String(claims.typ)} is not ${expect.typ}`);
  if (expect.aud !== undefined && claims.aud !== expect.aud) throw new CairnError("TOKEN_INVALID", "token is for another audience");
  const nowS = clock.now() / 1000;
  if (claims.exp <= nowS) throw new CairnError("TOKEN_EXPIRED", "token has expired");
  if (claims.iat > nowS + (expect.leewayMs ?? 300_000) / 1000) throw new CairnError("TOKEN_INVALID", "token issued in the future");
  return claims;
}
