/**
 * What the authority may hold of a user's key, per the effective key policy of the user's org
 * (RELIABILITY.md §5.1 and §5.6; DECISIONS.md "Keys and restores"):
 * - **escrow**: the user key wrapped by the escrow KEK, so the server can decrypt for web, zip,
 *   server and push restores;
 * - **password**: only the user key wrapped by the archive password (made on the device; the
 *   server never sees the password) — no escrowed copy;
 * - **custom**: nothing ("never sent to the server, even wrapped").
 *
 * The policy can be raised, never lowered (seed 001 "Security"). When an org's policy is raised
 * above the one a user's key record was made under, {@link keyPolicyRefusal} refuses every
 * server-side decryption of that user's archives from then on. The escrowed copy itself is kept
 * until a device of the user protects the key under the new policy (`set-user-key` drops it, as
 * Code42 keeps the account key until the user sets the archive password): destroying it at the
 * raise would make the archives of a user with no working device (a lost laptop, a deactivated
 * user in cold storage, a legal-hold custodian) unrecoverable. A device registering meanwhile
 * takes the key over from it (devices/registration.ts) instead of making a second one.
 */
import { CairnError, KEY_POLICIES, type KeyPolicy } from "@cairn/protocol";
import type { UserKeyRecord } from "../db/records.js";

/** Whether policy `a` is stronger than `b` (escrow < password < custom). */
export function strongerThan(a: KeyPolicy, b: KeyPolicy): boolean {
  return KEY_POLICIES.indexOf(a) > KEY_POLICIES.indexOf(b);
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
