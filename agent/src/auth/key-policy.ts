/**
 * Raising this device's user key to the organization's stronger key policy (RELIABILITY.md §5.1:
 * one-way, escrow → archive password → custom key).
 *
 * When an administrator raises the policy, the authority destroys the escrowed copy of every
 * user key at once and stops decrypting on the server; the key itself lives on, on the users'
 * devices. Until a device of the user protects it under the new policy, another device of that
 * user cannot get it: `cairn agent key-policy --archive-password PW` wraps the key held here with
 * the archive password (client-side KDF) and hands the authority that wrapping only
 * (`set-user-key`); `--custom --key-file PATH` saves the key in a new 0600 file (never printed),
 * the custom key to register other devices with, then tells the authority it holds nothing. The
 * archives are not re-encrypted: the same user key unwraps the same archive keys.
 */
import { CairnError, type Clock, type DeviceConfig, KEY_POLICIES, type KeyPolicy, wrapContext, wrapKeyWithPassword } from "@cairn/protocol";
import type { Logger } from "pino";
import { kvGet, openAgentDb } from "../state/agent-db.js";
import { readCredentials, requireCredentials, writeCredentials } from "../state/credentials.js";
import { saveCustomKey } from "./custom-key-file.js";
import { connectAuthority, syncConfig } from "./registration.js";

const rank = (p: KeyPolicy) => KEY_POLICIES.indexOf(p);

/** The policy the organization requires beyond this device's key, or null when the key meets it. */
export function requiredKeyPolicy(device: KeyPolicy | null | undefined, org: KeyPolicy | null | undefined): KeyPolicy | null {
  if (!device || !org) return null;
  return rank(org) > rank(device) ? org : null;
}

/** This device's key policy, the organization's (last synced) and what is still to do. */
export function keyPolicyState(dataDir: string): { device: KeyPolicy | null; org: KeyPolicy | null; required: KeyPolicy | null } {
  const creds = readCredentials(dataDir);
  let org: KeyPolicy | null = null;
  if (creds) {
    const db = openAgentDb(dataDir);
    try {
      org = kvGet<DeviceConfig>(db, "config")?.settings.keyPolicy ?? null;
    } finally {
      db.close();
    }
  }
  const device = creds?.keyPolicy ?? null;
  return { device, org, required: requiredKeyPolicy(device, org) };
}

/** Options of {@link raiseKeyPolicy}: exactly one of the two. */
export interface RaiseKeyPolicyOptions {
  dataDir: string;
  /** Protect the user key with this archive password (policy `password`). */
  archivePassword?: string;
  /** Make the user key a custom key the authority never holds (policy `custom`), saved in `customKeyFile`. */
  custom?: boolean;
  /** With `custom`: a new file to save the key in (hex, mode 0600). */
  customKeyFile?: string;
  clock: Clock;
  logger: Logger;
  proxy?: string | null;
}

/** Raises the user key's policy; returns the new policy and, for `custom`, the file the key was saved in. */
export async function raiseKeyPolicy(o: RaiseKeyPolicyOptions): Promise<{ keyPolicy: KeyPolicy; customKeyFile: string | null }> {
  if ((o.archivePassword === undefined) === (o.custom !== true)) throw new CairnError("USAGE", "give --archive-password or --custom");
  const target: KeyPolicy = o.custom ? "custom" : "password";
  const creds = requireCredentials(o.dataDir);
  if (!creds.userKey) throw new CairnError("CONFIG_INVALID", "this device holds no user key");
  if (rank(target) < rank(creds.keyPolicy))
    throw new CairnError("KEY_POLICY_DOWNGRADE", `this device's key is already under the ${creds.keyPolicy} policy; a policy is never lowered`);
  if (target === "custom" && !o.customKeyFile) throw new CairnError("USAGE", "--custom needs --key-file PATH: the key is saved there, never printed");
  const userKey = Buffer.from(creds.userKey, "base64");
  // saved before the authority forgets its copy: the key is never without a home
  if (target === "custom") saveCustomKey(o.customKeyFile as string, userKey);
  const wrapped = o.archivePassword !== undefined ? wrapKeyWithPassword(o.archivePassword, userKey, wrapContext.userKey(creds.userUid)) : null;
  const client = await connectAuthority(o.dataDir, {}, o.proxy);
  try {
    await client.call("set-user-key", { keyPolicy: target, wrappedUserKey: wrapped });
    writeCredentials(o.dataDir, { ...requireCredentials(o.dataDir), keyPolicy: target });
    await syncConfig(o.dataDir, client, o.clock, o.logger);
  } finally {
    client.close();
  }
  o.logger.info({ keyPolicy: target }, "user key protected under the raised key policy");
  return { keyPolicy: target, customKeyFile: target === "custom" ? (o.customKeyFile as string) : null };
}
