/**
 * Which HTTP CONNECT proxy a connection uses (seed 001, device backup defaults › Network): the
 * device's own (`HTTPS_PROXY`, `network.https_proxy` in the config file) wins; otherwise the
 * organization's `proxyUrl` from the last configuration the authority sent.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { DeviceConfig } from "@cairn/protocol";
import type { ProxySetting } from "../net/ws-link.js";
import { type Db, kvGet, openAgentDb } from "../state/agent-db.js";

/** The organization's proxy from the stored configuration, or null. */
export function orgProxy(db: Db): string | null {
  return kvGet<DeviceConfig>(db, "config")?.settings.proxyUrl ?? null;
}

function orgSetting(url: string | null): ProxySetting {
  return url === null ? null : { url, fallbackDirect: true };
}

/**
 * The proxy to use: the local one (strict: a link that cannot reach it fails), else the
 * organization's (with a direct fallback when it cannot be reached).
 */
export function effectiveProxy(local: ProxySetting, db: Db): ProxySetting {
  return local || orgSetting(orgProxy(db));
}

/** {@link effectiveProxy} for a data directory (opens its database briefly; none yet: direct). */
export function effectiveProxyOf(local: ProxySetting, dataDir: string): ProxySetting {
  if (local) return local;
  if (!existsSync(join(dataDir, "agent.db"))) return null;
  const db = openAgentDb(dataDir);
  try {
    return orgSetting(orgProxy(db));
  } finally {
    db.close();
  }
}
