/**
 * Deauthorize on the device (`cairn agent deauthorize`): the authority is told first (the device
 * token and its storage tokens die there and at the nodes, and the console shows the device
 * deauthorized, as after an administrator's deauthorization), then the credential and every key
 * are wiped here. The cache is kept (harmless without keys).
 */
import { isCairnError } from "@cairn/protocol";
import { connectAuthority } from "../auth/registration.js";
import { kvSet, openAgentDb, SIGNED_OUT_GUID_KEY } from "../state/agent-db.js";
import { readCredentials, wipeCredentials } from "../state/credentials.js";

/** What {@link deauthorize} did. */
export interface DeauthorizeResult {
  deauthorized: true;
  /** Whether the authority recorded the sign-out (false: it could not be reached, or refused). */
  authorityNotified: boolean;
  /** Why the authority was not told, when it was not. */
  authorityError?: { code: string; message: string };
}

/**
 * Signs the device out at its authority (when it has a credential and the authority answers
 * within `timeoutMs`), then wipes the credential and keys whatever the authority said: a device
 * that cannot reach its authority is still signed out locally, and the result says so.
 */
export async function deauthorize(dataDir: string, o: { proxy?: string | null; timeoutMs?: number } = {}): Promise<DeauthorizeResult> {
  let authorityNotified = false;
  let authorityError: DeauthorizeResult["authorityError"];
  if (readCredentials(dataDir) !== undefined) {
    try {
      const client = await connectAuthority(dataDir, { timeoutMs: o.timeoutMs ?? 10_000 }, o.proxy ?? null);
      try {
        await client.call("sign-out", {}, o.timeoutMs ?? 10_000);
        authorityNotified = true;
      } finally {
        client.close();
      }
    } catch (err) {
      authorityError = { code: isCairnError(err) ? err.code : "UNAVAILABLE", message: (err as Error).message };
    }
  }
  deauthorizeLocal(dataDir);
  return { deauthorized: true, authorityNotified, ...(authorityError ? { authorityError } : {}) };
}

/** Wipes the device credential, keys and storage tokens of a data directory. */
export function deauthorizeLocal(dataDir: string): void {
  // the device's guid is no secret: kept, so that signing in again resumes this device and its
  // archives instead of making a new one that uploads everything again (API.md §6)
  const guid = readCredentials(dataDir)?.deviceGuid;
  wipeCredentials(dataDir);
  const db = openAgentDb(dataDir);
  try {
    if (guid) kvSet(db, SIGNED_OUT_GUID_KEY, guid);
    db.prepare("UPDATE archives SET token = '', token_expires_at = 0, session_id = NULL").run();
  } finally {
    db.close();
  }
}
