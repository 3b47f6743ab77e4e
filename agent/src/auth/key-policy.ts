/**
 * Raising this device's user key to the organization's stronger key policy (RELIABILITY.md §5.1:
 * one-way, escrow → archive password → custom key).
 *
 * When an administrator raises the policy, the authority destroys the escrowed copy of every
 * user key at once and stops decrypting on the server; the key itself lives on, on the users'
 * devices. Until a device of the user protects it under the new policy, another device of that
 * user cannot get it: `cairn agent key-policy --archive-password PW` wraps the key held here with
 * the archive password (client-side KDF) and hands the authority that wrapping only
 * (`set-user-key`); `--custom` tells the authority it holds nothing and prints the key, once, as
 * the custom key to register other devices with. The archives are not re-encrypted: the same
 * user key unwraps the same archive keys.
 */
import { CairnError, type Clock, type DeviceConfig, KEY_POLICIES, type KeyPolicy, wrapContext, wrapKeyWithPassword } from "@cairn/protocol";
import type { Logger } from "pino";
import { kvGet, openAgentDb } from "../state/agent-db.js";
import { readCredentials, requireCredentials, writeCredentials } from "../state/credentials.js";
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
  /** Make the user key a custom key the authority never holds (policy `custom`). */
  custom?: boolean;
  clock: Clock;
  logger: Logger;
  proxy?: string | null;
}

/** Raises the user key's policy; returns the new policy and, for `custom`, the key (hex) to keep. */
export async function raiseKeyPolicy(o: RaiseKeyPolicyOptions): Promise<{ keyPolicy: KeyPolicy; customKey: string | null }> {
  if ((o.archivePassword === undefined) === (o.custom !== true)) throw new CairnError("USAGE", "give --archive-password or --custom");
  const target: KeyPolicy = o.custom ? "custom" : "password";
  const creds = requireCredentials(o.dataDir);
  if (!creds.userKey) throw new CairnError("CONFIG_INVALID", "this device holds no user key");
  if (rank(target) < rank(creds.keyPolicy))
    throw new CairnError("KEY_POLICY_DOWNGRADE", `this device's key is already under the ${creds.keyPolicy} policy; a policy is never lowered`);
  const userKey = Buffer.from(creds.userKey, "base64");
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
  return { keyPolicy: target, customKey: target === "custom" ? userKey.toString("hex") : null };
}
