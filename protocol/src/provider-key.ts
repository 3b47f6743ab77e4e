/**
 * Provider keys (provider mode, DECISIONS.md "Provider tenants"): a storage node operator issues
 * one with `cairn storenode provider-key --tenant NAME`; an authority that adds a destination
 * with it learns where the node is, pins its certificate, and registers with the one-time
 * credential over `wss://node/v1/tenant` (`tenant-register`).
 *
 * Format: the ASCII prefix `cairnpk1.` followed by the base64url (no padding) of the UTF-8 JSON
 * object {@link ProviderKey} (`v` is 1). Byte-level description: docs/storenode.md.
 */
import { CairnError } from "./errors.js";
import { int, literal, obj, str, arr, validate, type Infer } from "./schema.js";
import { guid } from "./messages/common.js";

/** The prefix that starts every provider key of format 1. */
export const PROVIDER_KEY_PREFIX = "cairnpk1.";

/** What a provider key carries. */
export const providerKeySchema = obj({
  v: literal(1),
  /** wss URLs of the node, tried in order. */
  urls: arr(str({ max: 500, pattern: /^wss:\/\/[^\s]+$/ }), { min: 1, max: 8 }),
  /** SHA-256 fingerprint of the node's certificate (`AB:CD:…`). */
  fingerprint: str({ min: 64, max: 120 }),
  /** One-time credential for `tenant-register`. */
  credential: str({ min: 20, max: 200 }),
  /** The tenant's name on the provider's node. */
  tenantName: str({ min: 1, max: 200 }),
  /** The node's name. */
  nodeName: str({ min: 1, max: 200 }),
  /** The node's server GUID. */
  serverGuid: guid(),
  /** The tenant's quota in bytes, −1 unlimited. */
  quotaBytes: int({ min: -1 }),
});
export type ProviderKey = Infer<typeof providerKeySchema>;

/** Encodes a provider key. */
export function encodeProviderKey(k: ProviderKey): string {
  validate(providerKeySchema, k);
  return PROVIDER_KEY_PREFIX + Buffer.from(JSON.stringify(k), "utf8").toString("base64url");
}

/** Decodes and validates a provider key; throws PROVIDER_KEY_INVALID. */
export function decodeProviderKey(text: string): ProviderKey {
  const t = typeof text === "string" ? text.trim() : "";
  if (!t.startsWith(PROVIDER_KEY_PREFIX) || t.length > 8192) throw new CairnError("PROVIDER_KEY_INVALID", "not a provider key");
  try {
    const json: unknown = JSON.parse(Buffer.from(t.slice(PROVIDER_KEY_PREFIX.length), "base64url").toString("utf8"));
    return validate(providerKeySchema, json);
  } catch (cause) {
    throw new CairnError("PROVIDER_KEY_INVALID", "the provider key is malformed", { cause });
  }
}
