/**
 * What the authority may hold of a user's key, per the effective key policy of the user's org
 * (RELIABILITY.md §5.1 and §5.6; DECISIONS.md "Keys and restores"):
 * - **escrow**: the user key wrapped by the escrow KEK, so the server can decrypt for web, zip,
 *   server and push restores;
 * - **password**: only the user key wrapped by the archive password (made on the device; the
 *   server never sees the password) — no escrowed copy;
 * - **custom**: nothing ("never sent to the server, even wrapped").
 *
 * The policy can be raised, never lowered (seed 001 "Security"). When it is raised for an org
 * (its own setting, an ancestor's, inheriting a stronger one, or moving under a stronger parent),
 * {@link enforceKeyPolicies} raises the key record of every user of the affected orgs in the same
 * transaction: the escrowed copy is destroyed, so from then on nobody — not an administrator, not
 * a restore — can have the server decrypt that user's archives with it. The user's devices keep
 * their copy of the user key; an agent wraps it under the new policy (`set-user-key`) and the
 * password restores work again. Until then {@link keyPolicyRefusal} refuses server-side
 * decryption, also for a record the raise has not reached (a user moved into a stronger org).
 */
import { CairnError, KEY_POLICIES, type KeyPolicy } from "@cairn/protocol";
import { auditEntry } from "../audit/audit.js";
import type { Principal } from "../auth/access.js";
import type { UserKeyRecord } from "../db/records.js";
import type { StoreWriter } from "../db/store.js";
import type { SettingsService } from "../settings/settings-service.js";

/** Whether policy `a` is stronger than `b` (escrow < password < custom). */
export function strongerThan(a: KeyPolicy, b: KeyPolicy): boolean {
  return KEY_POLICIES.indexOf(a) > KEY_POLICIES.indexOf(b);
}

/**
 * Raises the key records of the users of the subtree at `path` to their org's effective key
 * policy, destroying what that policy does not let the authority hold, and audits each raise
 * (`user.key.policy`, `{from, to, escrowDestroyed, cause: "org.keyPolicy"}`). Returns the users raised.
 */
export async function enforceKeyPolicies(tx: StoreWriter, settings: SettingsService, p: Principal, path: string, now: number): Promise<number[]> {
  const orgs = await tx.listSubtree(path);
  const resolved = await settings.resolveMany(orgs, tx);
  const byPolicy = new Map<KeyPolicy, { orgId: number }[]>();
  for (const o of orgs) {
    const policy = resolved.get(o.orgId)?.values.security.keyPolicy ?? "escrow";
    if (policy === "escrow") continue;
    byPolicy.set(policy, [...(byPolicy.get(policy) ?? []), o]);
  }
  const raised: number[] = [];
  for (const [policy, list] of byPolicy) {
    const users = await tx.raiseUserKeys(
      list.map((o) => o.orgId),
      policy,
      now,
    );
    for (const u of users) {
      const user = await tx.getUser(u.userId);
      await tx.appendAudit(
        auditEntry(
          p,
          now,
          "user.key.policy",
          { type: "user", id: u.userId, orgId: user?.orgId ?? null },
          { from: u.from, to: policy, escrowDestroyed: u.from === "escrow", cause: "org.keyPolicy" },
        ),
      );
      raised.push(u.userId);
    }
  }
  return raised;
}

/**
 * The refusal of server-side decryption when the org's effective key policy is stronger than the
 * one the user's key record was made under (null when it is not): the escrowed copy must not be
 * used once the policy was raised. The code is the platform's for the policy now in force
 * (PRIVATE_PASSWORD_INVALID, CUSTOM_KEY_INVALID: what py42 scripts already handle), with a message
 * that says why no password or key the caller sends can open the archive yet.
 */
export function keyPolicyRefusal(orgPolicy: KeyPolicy, uk: Pick<UserKeyRecord, "keyPolicy"> | undefined): CairnError | null {
  if (uk === undefined || !strongerThan(orgPolicy, uk.keyPolicy)) return null;
  const details = { orgKeyPolicy: orgPolicy, userKeyPolicy: uk.keyPolicy };
  if (orgPolicy === "password")
    return new CairnError(
      "PRIVATE_PASSWORD_INVALID",
      "PRIVATE_PASSWORD_INVALID: the organization's encryption key policy was raised to an archive password, and this user's key is not protected by one yet (on one of the user's devices: cairn agent key-policy --archive-password); until then the authority decrypts nothing of this archive (restore from the user's device)",
      { details },
    );
  return new CairnError(
    "CUSTOM_KEY_INVALID",
    "CUSTOM_KEY_INVALID: the organization's encryption key policy was raised to a custom key; the authority does not decrypt this archive (restore from the user's device)",
    { details },
  );
}
