/**
 * Signed agent packages (upgrades): what the authority signs and the agent verifies. The
 * authority's package-signing key (Ed25519, not the token-signing key) signs one canonical
 * statement per package, binding its version to the SHA-256 of its bytes:
 *
 *   "cairn-agent-package/v1\n" ‖ version ‖ "\n" ‖ sha256 (64 lowercase hex) ‖ "\n"
 *
 * The signature travels base64url (86 characters) in the `upgrade-available` event; the agent
 * checks it against the key it pinned before it downloads a byte, then checks the download's
 * SHA-256 against the signed one. Pure: no I/O.
 */
import { createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import { CairnError } from "./errors.js";

/** Domain separation prefix of the signed statement. */
export const AGENT_PACKAGE_STATEMENT_PREFIX = "cairn-agent-package/v1\n";

/** Package versions: semver-like `MAJOR.MINOR.PATCH` with an optional `-prerelease`. */
export const AGENT_PACKAGE_VERSION_RE = /^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})(?:-([0-9A-Za-z.-]{1,40}))?$/;

/** Throws USAGE unless `v` is a package version (`1.4.2`, `1.5.0-rc.1`). */
export function checkPackageVersion(v: string): string {
  if (!AGENT_PACKAGE_VERSION_RE.test(v)) throw new CairnError("USAGE", `not a package version (MAJOR.MINOR.PATCH[-pre]): ${JSON.stringify(v.slice(0, 80))}`);
  return v;
}

/** The version number of an agent version string (`cairn-agent/0.1.0` → `0.1.0`). */
export function packageVersionOf(agentVersion: string): string {
  const slash = agentVersion.lastIndexOf("/");
  return slash === -1 ? agentVersion : agentVersion.slice(slash + 1);
}

/**
 * Orders two package versions: negative when `a` is older than `b`, 0 when equal, positive when
 * newer. A prerelease is older than its release; prerelease parts compare numerically when both
 * are numbers, else as text. Versions that do not parse compare as older than any that do.
 */
export function compareVersions(a: string, b: string): number {
  const pa = AGENT_PACKAGE_VERSION_RE.exec(a);
  const pb = AGENT_PACKAGE_VERSION_RE.exec(b);
  if (!pa || !pb) return (pa ? 1 : 0) - (pb ? 1 : 0);
  for (let i = 1; i <= 3; i++) {
    const d = Number(pa[i]) - Number(pb[i]);
    if (d !== 0) return d;
  }
  const ra = pa[4];
  const rb = pb[4];
  if (ra === undefined || rb === undefined) return (ra === undefined ? 1 : 0) - (rb === undefined ? 1 : 0);
  const xa = ra.split(".");
  const xb = rb.split(".");
  for (let i = 0; i < Math.max(xa.length, xb.length); i++) {
    const sa = xa[i];
    const sb = xb[i];
    if (sa === undefined || sb === undefined) return sa === undefined ? -1 : 1;
    const na = /^\d+$/.test(sa);
    const nb = /^\d+$/.test(sb);
    const d = na && nb ? Number(sa) - Number(sb) : na !== nb ? (na ? -1 : 1) : sa < sb ? -1 : sa > sb ? 1 : 0;
    if (d !== 0) return d;
  }
  return 0;
}

/** The statement the package-signing key signs. */
export function agentPackageStatement(version: string, sha256Hex: string): Buffer {
  checkPackageVersion(version);
  if (!/^[0-9a-f]{64}$/.test(sha256Hex)) throw new CairnError("BAD_REQUEST", "the package digest must be 64 lowercase hex digits");
  return Buffer.from(`${AGENT_PACKAGE_STATEMENT_PREFIX}${version}\n${sha256Hex}\n`, "utf8");
}

/** Signs a package statement with an Ed25519 private key; base64url. */
export function signAgentPackage(privateKey: KeyObject, version: string, sha256Hex: string): string {
  return sign(null, agentPackageStatement(version, sha256Hex), privateKey).toString("base64url");
}

/** The raw 32-byte Ed25519 public key in base64url (43 characters): how agents pin it. */
export function packageKeyText(publicKey: KeyObject): string {
  return String(publicKey.export({ format: "jwk" }).x);
}

/** Reverses {@link packageKeyText}; throws CONFIG_INVALID for anything else. */
export function importPackageKey(text: string): KeyObject {
  if (!/^[A-Za-z0-9_-]{43}$/.test(text.trim())) throw new CairnError("CONFIG_INVALID", "a package-signing key is 43 base64url characters");
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: text.trim() }, format: "jwk" });
}

/**
 * Verifies a package signature; throws PACKAGE_SIGNATURE_INVALID when it is missing, malformed
 * or does not verify for this version and digest under `publicKey`.
 */
export function verifyAgentPackage(publicKey: KeyObject, version: string, sha256Hex: string, signature: string): void {
  let ok = false;
  try {
    const sig = Buffer.from(signature, "base64url");
    ok = sig.length === 64 && verify(null, agentPackageStatement(version, sha256Hex), publicKey, sig);
  } catch {
    ok = false;
  }
  if (!ok)
    throw new CairnError("PACKAGE_SIGNATURE_INVALID", `the signature of agent package ${version.slice(0, 64)} does not verify with the pinned package key`);
}
