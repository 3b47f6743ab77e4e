/**
 * The device's secrets, in `credentials.json` (mode 0600, written atomically): the authority it
 * registered with (URL and pinned fingerprint), the device token, the user key where the key
 * policy lets the device keep it, and the archive keys. Deauthorize deletes the file.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CairnError, type KeyPolicy } from "@cairn/protocol";

/** What credentials.json holds. */
export interface Credentials {
  authorityUrl: string;
  authorityFingerprint: string;
  deviceGuid: string;
  deviceToken: string;
  deviceName: string;
  userUid: string;
  orgUid: string;
  username: string;
  keyPolicy: KeyPolicy;
  /** The user key (base64), or null where it must be supplied (never, for now: see docs/agent.md). */
  userKey: string | null;
  /** Archive keys by archive GUID (base64). */
  archiveKeys: Record<string, string>;
}

function path(dataDir: string): string {
  return join(dataDir, "credentials.json");
}

/** Creates the data directory (0700). */
export function ensureDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  try {
    chmodSync(dataDir, 0o700);
  } catch {
    // not ours to change
  }
}

/** Reads the credentials, or undefined when the device is not registered. */
export function readCredentials(dataDir: string): Credentials | undefined {
  const p = path(dataDir);
  if (!existsSync(p)) return undefined;
  try {
    return JSON.parse(readFileSync(p, "utf8")) as Credentials;
  } catch (cause) {
    throw new CairnError("CONFIG_INVALID", `${p} is not valid JSON`, { cause });
  }
}

/** Reads the credentials or throws NOT_REGISTERED. */
export function requireCredentials(dataDir: string): Credentials {
  const c = readCredentials(dataDir);
  if (!c) throw new CairnError("NOT_REGISTERED", `this agent is not registered (no credentials in ${dataDir}); run \`cairn agent register\``);
  return c;
}

/** Writes the credentials atomically with mode 0600. */
export function writeCredentials(dataDir: string, c: Credentials): void {
  ensureDataDir(dataDir);
  const p = path(dataDir);
  const tmp = `${p}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(c, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, p);
}

/** Deletes the credentials (deauthorize): the device token and every key. */
export function wipeCredentials(dataDir: string): void {
  rmSync(path(dataDir), { force: true });
}

/** The archive key of an archive, or undefined. */
export function archiveKeyOf(c: Credentials | undefined, archiveGuid: string): Buffer | undefined {
  const k = c?.archiveKeys[archiveGuid];
  return k ? Buffer.from(k, "base64") : undefined;
}
