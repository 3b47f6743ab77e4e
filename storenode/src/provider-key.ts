/**
 * `createProviderKey`: issues a provider key for a tenant (provider mode). The key carries the
 * node's URLs, its certificate fingerprint and a one-time credential (`cnp_…`, only its SHA-256
 * is stored); the format is defined in `@cairn/protocol` (provider-key.ts). Issuing a key for an
 * existing tenant name gives that tenant a new credential: registering with it replaces the
 * tenant authority's secret and keys (recovery when a tenant lost its secret).
 */
import { resolve } from "node:path";
import { CairnError, type Clock, encodeProviderKey, hashSecret, newGuid, newSecret, systemClock } from "@cairn/protocol";
import { NodeDb } from "./node-db.js";
import { loadTls } from "./tls.js";

/** Options of {@link createProviderKey}. */
export interface CreateProviderKeyOptions {
  dataDir: string;
  tenantName: string;
  /** Tenant quota in bytes (default −1, unlimited). */
  quotaBytes?: number;
  /** URLs to put in the key (default: the node's configured or last served URLs). */
  urls?: readonly string[];
  clock?: Clock;
}

/** The issued key. */
export interface ProviderKeyResult {
  providerKey: string;
  tenantId: string;
  tenantName: string;
  quotaBytes: number;
  urls: string[];
}

/** Issues a provider key (see the file comment). Works while the node is running. */
export function createProviderKey(opts: CreateProviderKeyOptions): ProviderKeyResult {
  const clock = opts.clock ?? systemClock;
  const dataDir = resolve(opts.dataDir);
  const name = opts.tenantName.trim();
  if (name.length < 1 || name.length > 200) throw new CairnError("USAGE", "a tenant name has 1 to 200 characters");
  const quotaBytes = opts.quotaBytes ?? -1;
  if (!Number.isSafeInteger(quotaBytes) || quotaBytes < -1) throw new CairnError("USAGE", "quota must be a byte count (or -1 for unlimited)");
  const db = NodeDb.openInitialized(dataDir);
  try {
    const serverGuid = db.getSetting<string>("serverGuid");
    if (!serverGuid) throw new CairnError("CONFIG_INVALID", `${dataDir} is not initialized (run storenode init)`);
    const urls = [...(opts.urls ?? db.getSetting<string[]>("urls") ?? db.getSetting<string[]>("servedUrls") ?? [])];
    if (urls.length === 0) throw new CairnError("CONFIG_INVALID", "the node's URL is not known yet: pass --url, or run serve once");
    const credential = newSecret("cnp");
    const tenantId = db.tenantByName(name)?.id ?? newGuid();
    db.upsertTenant(tenantId, name, quotaBytes, hashSecret(credential), clock.now());
    const providerKey = encodeProviderKey({
      v: 1,
      urls,
      fingerprint: loadTls(dataDir).fingerprint,
      credential,
      tenantName: name,
      nodeName: db.getSetting<string>("name") ?? "storenode",
      serverGuid,
      quotaBytes,
    });
    return { providerKey, tenantId, tenantName: name, quotaBytes, urls };
  } finally {
    db.close();
  }
}
