/**
 * The package-signing key the agent trusts: `upgrade.package_key` from agent.toml when the
 * operator set it, else the key the authority served on the first connection, pinned in
 * `<data>/package-key.json` (0600). A pinned key is never replaced by what the authority serves
 * later: a different key is logged and refused (an operator who rotated it sets the new one in
 * agent.toml or deletes the file).
 */
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { KeyObject } from "node:crypto";
import { join } from "node:path";
import { CairnError, importPackageKey } from "@cairn/protocol";

/** What package-key.json holds. */
export interface PinnedPackageKey {
  publicKey: string;
  keyId: string;
  pinnedAt: number;
}

const fileOf = (dataDir: string) => join(dataDir, "package-key.json");

/** The pinned key, if any. */
export function readPinnedKey(dataDir: string): PinnedPackageKey | undefined {
  const f = fileOf(dataDir);
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, "utf8")) as PinnedPackageKey;
  } catch (cause) {
    throw new CairnError("CONFIG_INVALID", `${f} is not valid JSON`, { cause });
  }
}

/**
 * Pins `key` unless one is pinned already. Returns "pinned" (new), "same" (already this key) or
 * "different" (another key is pinned: the new one is not trusted).
 */
export function pinKey(dataDir: string, key: { publicKey: string; keyId: string }, now: number): "pinned" | "same" | "different" {
  importPackageKey(key.publicKey);
  const cur = readPinnedKey(dataDir);
  if (cur !== undefined) return cur.publicKey === key.publicKey ? "same" : "different";
  const f = fileOf(dataDir);
  const tmp = `${f}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ publicKey: key.publicKey, keyId: key.keyId, pinnedAt: now }, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, f);
  return "pinned";
}

/** The key packages must verify with: the configured one, else the pinned one, else null. */
export function trustedPackageKey(dataDir: string, configured: string | null): KeyObject | null {
  if (configured !== null) return importPackageKey(configured);
  const pinned = readPinnedKey(dataDir);
  return pinned ? importPackageKey(pinned.publicKey) : null;
}

/**
 * Pins the package-signing key of the authority the device just registered with (first use);
 * a failure is not fatal: the daemon pins it at its first connection.
 */
export async function pinAtRegistration(dataDir: string, proxy: string | null, now: number): Promise<"pinned" | "same" | "different" | "failed"> {
  const { readCredentials } = await import("../state/credentials.js");
  const { fetchPackageKey } = await import("./download.js");
  const c = readCredentials(dataDir);
  if (!c) return "failed";
  try {
    const key = await fetchPackageKey({ url: c.authorityUrl, fingerprint: c.authorityFingerprint, token: c.deviceToken, proxy });
    return pinKey(dataDir, key, now);
  } catch {
    return "failed";
  }
}
