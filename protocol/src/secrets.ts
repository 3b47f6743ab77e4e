/**
 * Opaque secrets (device credentials, node credentials, API tokens, one-time keys): random,
 * prefixed so that a leaked one is recognisable, stored only as SHA-256, compared in constant
 * time. Also certificate fingerprints, which peers pin.
 */
import { createHash, randomBytes, timingSafeEqual, X509Certificate } from "node:crypto";
import { CairnError } from "./errors.js";

/** A fresh secret: `<prefix>_` + 256 random bits in base64url. */
export function newSecret(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString("base64url")}`;
}

/** SHA-256 hex of a secret: what the database stores. */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/** Constant-time string comparison (false on different lengths, without early exit on content). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  if (x.length !== y.length) {
    timingSafeEqual(x, x);
    return false;
  }
  return timingSafeEqual(x, y);
}

/** Checks a presented secret against a stored SHA-256 hex, in constant time. */
export function secretMatches(presented: string, storedHash: string): boolean {
  return safeEqual(hashSecret(presented), storedHash);
}

/**
 * A registration key in the platform's form `XXXX-XXXX-XXXX-XXXX` (A-Z, 0-9), 80 bits.
 */
export function newRegistrationKey(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  const b = randomBytes(16);
  let s = "";
  for (let i = 0; i < 16; i++) {
    s += alphabet[(b[i] as number) % 36];
    if (i % 4 === 3 && i < 15) s += "-";
  }
  return s;
}

/** SHA-256 fingerprint of a certificate (PEM or DER) as `AB:CD:…` (64 hex digits, colons). */
export function certFingerprint(cert: string | Buffer): string {
  try {
    return new X509Certificate(cert).fingerprint256;
  } catch (cause) {
    throw new CairnError("BAD_REQUEST", "not a certificate", { cause });
  }
}

/** Normalizes a fingerprint for comparison: hex digits only, upper case. */
export function normalizeFingerprint(fp: string): string {
  const hex = fp
    .replace(/^sha256:/i, "")
    .replace(/[^0-9a-fA-F]/g, "")
    .toUpperCase();
  if (hex.length !== 64) throw new CairnError("BAD_REQUEST", "a certificate fingerprint has 64 hex digits");
  return hex;
}

/** True when two fingerprints name the same certificate, whatever their formatting. */
export function fingerprintsMatch(a: string, b: string): boolean {
  try {
    return safeEqual(normalizeFingerprint(a), normalizeFingerprint(b));
  } catch {
    return false;
  }
}
