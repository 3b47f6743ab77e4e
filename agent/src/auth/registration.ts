/**
 * Registration, configuration and keys: `register` with the organization's registration key and
 * the user's credentials; `get-config` (stored locally so the agent works while the authority is
 * away); archives created on the destinations the device backs up to (`create-archive`, then an
 * archive key made here and uploaded wrapped by the user key with `set-archive-key`); storage
 * tokens renewed whenever the authority is reachable (`renew-tokens`).
 *
 * Key policies: `escrow` (the authority hands the user key over TLS at register), `password`
 * (the user key is wrapped by the archive password; the device unwraps it with the password given
 * at register and keeps it), `custom` (the user key is a 256-bit key the user supplies; it never
 * leaves the device).
 */
import { statSync } from "node:fs";
import { hostname, release } from "node:os";
import type { Logger } from "pino";
import {
  CairnError,
  type Clock,
  type DeviceConfig,
  generateKey,
  isCairnError,
  unwrapKey,
  unwrapKeyWithPassword,
  wrapContext,
  wrapKey,
  wrapKeyWithPassword,
} from "@cairn/protocol";
import { effectiveProxyOf } from "../config/org-proxy.js";
import { openAgentDb, kvGet, kvSet, SIGNED_OUT_GUID_KEY } from "../state/agent-db.js";
import { EMPTY_SELECTION, type SelectionSpec } from "../selection.js";
import { ArchiveStore } from "../state/archive-store.js";
import { type Credentials, ensureDataDir, readCredentials, requireCredentials, writeCredentials } from "../state/credentials.js";
import { AGENT_VERSION } from "../version.js";
import { AuthorityClient } from "./authority-client.js";
import { saveCustomKey } from "./custom-key-file.js";

/** Options of {@link registerAgent}. */
export interface RegisterOptions {
  dataDir: string;
  authorityUrl: string;
  authorityFingerprint: string;
  registrationKey: string;
  username: string;
  password: string;
  totp?: string | null;
  deviceName?: string;
  /** Archive password (key policy `password`). */
  archivePassword?: string;
  /** Where to save the user's key when it becomes a custom key here (a policy raised to custom keys). */
  customKeyFile?: string;
  /** Custom key, 64 hex digits (key policy `custom`). */
  customKey?: string;
  clock: Clock;
  logger: Logger;
  proxy?: string | null;
}

/** What registration returns. */
export interface RegisterResult {
  guid: string;
  userUid: string;
  orgUid: string;
  keyPolicy: string;
  deviceName: string;
}

function signedOutGuid(dataDir: string): string | undefined {
  const db = openAgentDb(dataDir);
  try {
    return kvGet<string>(db, SIGNED_OUT_GUID_KEY);
  } finally {
    db.close();
  }
}

/** Registers this device and stores its credentials (0600) and configuration. */
export async function registerAgent(o: RegisterOptions): Promise<RegisterResult> {
  ensureDataDir(o.dataDir);
  const previous = readCredentials(o.dataDir);
  // a device signed out here (`deauthorize`) signs in again as itself: same guid, same archives
  const signedOut = previous ? undefined : signedOutGuid(o.dataDir);
  const deviceName = o.deviceName ?? hostname();
  const anon = await AuthorityClient.connect({ url: o.authorityUrl, fingerprint: o.authorityFingerprint, token: null, proxy: o.proxy ?? null }).catch(
    (err: unknown) => {
      if (isCairnError(err, "UNAVAILABLE") || isCairnError(err, "TIMEOUT") || isCairnError(err, "CONNECTION_LOST"))
        throw new CairnError(
          "UNAVAILABLE",
          `cannot register: the authority ${o.authorityUrl} is not reachable (${err.message}); registering needs the authority, devices already registered go on backing up without it`,
          { cause: err },
        );
      throw err;
    },
  );
  let res: Awaited<ReturnType<AuthorityClient["call"]>> & { deviceGuid: string };
  try {
    res = (await anon.call("register", {
      registrationKey: o.registrationKey,
      username: o.username,
      password: o.password,
      totp: o.totp ?? null,
      deviceName,
      hostname: hostname().slice(0, 255),
      osName: process.platform === "darwin" ? "mac" : process.platform === "win32" ? "win" : "linux",
      osVersion: release().slice(0, 64),
      osArch: process.arch.slice(0, 32),
      agentVersion: AGENT_VERSION,
      timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone.slice(0, 64),
      existingDeviceGuid: previous?.deviceGuid ?? signedOut ?? null,
    })) as never;
  } finally {
    anon.close();
  }
  const r = res as unknown as {
    deviceGuid: string;
    deviceToken: string;
    userUid: string;
    orgUid: string;
    keyPolicy: "escrow" | "password" | "custom";
    userKey: Buffer | null;
    wrappedUserKey: Buffer | null;
  };
  let userKey: Buffer;
  let uploadWrapped: Buffer | null = null;
  let takeOverCustom = false;
  if (r.keyPolicy === "escrow") {
    if (!r.userKey) throw new CairnError("INTERNAL", "the authority sent no user key for the escrow policy");
    userKey = r.userKey;
  } else if (r.keyPolicy === "password") {
    if (!o.archivePassword) throw new CairnError("PRIVATE_PASSWORD_INVALID", "this organization uses archive passwords: pass --archive-password");
    if (r.wrappedUserKey) {
      try {
        userKey = unwrapKeyWithPassword(o.archivePassword, r.wrappedUserKey, wrapContext.userKey(r.userUid));
      } catch (err) {
        if (!isCairnError(err, "DECRYPT_FAILED")) throw err;
        throw new CairnError("PRIVATE_PASSWORD_INVALID", "the archive password is wrong (it does not unlock this user's key)");
      }
    } else {
      // the user's existing key when the org raised the policy and no device protected it yet
      // (the authority hands over its escrowed copy once), else a new user's first key
      userKey = r.userKey ?? generateKey();
      uploadWrapped = wrapKeyWithPassword(o.archivePassword, userKey, wrapContext.userKey(r.userUid));
    }
  } else if (r.userKey) {
    // raised to custom keys before any device of the user took the key over: this one does,
    // saves it where the user said, and the authority then holds nothing
    if (o.customKey && !Buffer.from(o.customKey, "hex").equals(r.userKey))
      throw new CairnError(
        "CUSTOM_KEY_INVALID",
        "this user already has a key, which is not that custom key: register without --custom-key and with --custom-key-file PATH to take it over",
      );
    if (!o.customKeyFile)
      throw new CairnError(
        "CUSTOM_KEY_INVALID",
        "the organization now uses custom keys and this user's key was not taken over yet: pass --custom-key-file PATH to take it over and save it",
      );
    saveCustomKey(o.customKeyFile, r.userKey);
    userKey = r.userKey;
    takeOverCustom = true;
  } else {
    if (!o.customKey || !/^[0-9a-fA-F]{64}$/.test(o.customKey))
      throw new CairnError("CUSTOM_KEY_INVALID", "this organization uses custom keys: pass --custom-key (64 hex digits)");
    userKey = Buffer.from(o.customKey, "hex");
  }
  const creds: Credentials = {
    authorityUrl: o.authorityUrl,
    authorityFingerprint: o.authorityFingerprint,
    deviceGuid: r.deviceGuid,
    deviceToken: r.deviceToken,
    deviceName,
    userUid: r.userUid,
    orgUid: r.orgUid,
    username: o.username,
    keyPolicy: r.keyPolicy,
    userKey: userKey.toString("base64"),
    archiveKeys: previous && previous.userUid === r.userUid ? previous.archiveKeys : {},
  };
  writeCredentials(o.dataDir, creds);
  const client = await connectAuthority(o.dataDir, {}, o.proxy);
  try {
    if (uploadWrapped) await client.call("set-user-key", { keyPolicy: "password", wrappedUserKey: uploadWrapped });
    if (takeOverCustom) await client.call("set-user-key", { keyPolicy: "custom", wrappedUserKey: null });
    await syncConfig(o.dataDir, client, o.clock, o.logger);
  } finally {
    client.close();
  }
  return { guid: r.deviceGuid, userUid: r.userUid, orgUid: r.orgUid, keyPolicy: r.keyPolicy, deviceName };
}

/** Connects to the authority with the stored device token. */
export async function connectAuthority(
  dataDir: string,
  extra: Omit<Parameters<typeof AuthorityClient.connect>[0], "url" | "fingerprint" | "token" | "proxy"> = {},
  proxy?: string | null,
): Promise<AuthorityClient> {
  const c = requireCredentials(dataDir);
  return AuthorityClient.connect({
    url: c.authorityUrl,
    fingerprint: c.authorityFingerprint,
    token: c.deviceToken,
    proxy: effectiveProxyOf(proxy, dataDir),
    ...extra,
  });
}

/** The stored configuration, if any. */
export function storedConfig(dataDir: string): DeviceConfig | undefined {
  const db = openAgentDb(dataDir);
  try {
    return kvGet<DeviceConfig>(db, "config");
  } finally {
    db.close();
  }
}

/** Whether a destination offer is one this device backs up to. */
export function backsUpTo(d: DeviceConfig["destinations"][number]): boolean {
  return d.autoStart || d.optedIn;
}

/**
 * Fetches the configuration and stores it, nothing more (no archive is created, no token renewed):
 * for listings that should show what the authority offers now.
 */
export async function refreshConfig(dataDir: string, client: AuthorityClient, timeoutMs?: number): Promise<DeviceConfig> {
  const config = await client.call("get-config", {}, timeoutMs);
  const db = openAgentDb(dataDir);
  try {
    kvSet(db, "config", config);
  } finally {
    db.close();
  }
  return config;
}

/**
 * Fetches the configuration, stores it, makes sure every destination the device backs up to has
 * an archive and a key, and renews storage tokens. Returns the configuration.
 */
export async function syncConfig(dataDir: string, client: AuthorityClient, clock: Clock, logger: Logger): Promise<DeviceConfig> {
  const config = await client.call("get-config", {});
  const db = openAgentDb(dataDir);
  try {
    kvSet(db, "config", config);
    const archives = new ArchiveStore(db);
    let creds = requireCredentials(dataDir);
    const userKey = creds.userKey ? Buffer.from(creds.userKey, "base64") : null;
    for (const d of config.destinations) {
      if (!backsUpTo(d)) continue;
      let guid = d.archiveGuid;
      let server = d.server;
      let token = d.token;
      let expires = d.tokenExpiresAt ?? 0;
      let created = false;
      if (!guid || !server || !token) {
        const a = await client.call("create-archive", { destinationGuid: d.destinationGuid });
        guid = a.archiveGuid;
        server = a.server;
        token = a.token;
        expires = a.tokenExpiresAt;
        created = a.created;
      }
      if (!creds.archiveKeys[guid]) {
        if (!userKey) throw new CairnError("PRIVATE_PASSWORD_INVALID", "the user key is not available on this device");
        let ak: Buffer | undefined;
        if (!created) {
          const keys = await client.call("get-archive-keys", {});
          const w = keys.keys.find((k) => k.archiveGuid === guid);
          if (w) ak = unwrapKey(userKey, w.wrappedArchiveKey, wrapContext.archiveKey(creds.userUid, guid, w.keyVersion));
        }
        if (!ak) {
          ak = generateKey();
          await client.call("set-archive-key", {
            archiveGuid: guid,
            wrappedArchiveKey: wrapKey(userKey, ak, wrapContext.archiveKey(creds.userUid, guid, 1)),
            keyVersion: 1,
          });
        }
        creds = { ...creds, archiveKeys: { ...creds.archiveKeys, [guid]: ak.toString("base64") } };
        writeCredentials(dataDir, creds);
      }
      archives.upsertEndpoint({
        archiveGuid: guid,
        destinationGuid: d.destinationGuid,
        destinationName: d.name,
        serverGuid: server.serverGuid,
        url: server.url,
        fingerprint: server.fingerprint,
        token,
        tokenExpiresAt: expires,
      });
    }
    // renew tokens of every archive (the authority is reachable now)
    try {
      const renewed = await client.call("renew-tokens", {});
      for (const t of renewed.tokens) {
        if (!archives.get(t.archiveGuid)) continue;
        archives.update(t.archiveGuid, {
          token: t.token,
          tokenExpiresAt: t.tokenExpiresAt,
          url: t.server.url,
          fingerprint: t.server.fingerprint,
          serverGuid: t.server.serverGuid,
        });
      }
    } catch (err) {
      logger.warn({ err }, "token renewal failed; keeping the current tokens");
    }
    kvSet(db, "configSyncedAt", clock.now());
    await reportLocalSelection(client, db, logger);
    return config;
  } finally {
    db.close();
  }
}

/** A selected path as the device's settings show it: a folder ends with "/" (API.md §5.4). */
function shownPath(p: string): string {
  if (p.endsWith("/")) return p;
  try {
    return statSync(p).isDirectory() ? `${p}/` : p;
  } catch {
    return p; // gone since it was selected: shown as it was typed
  }
}

/**
 * Tells the authority what the device's user selected here (`cairn agent select`): it shows it
 * in the device's settings, and keeps it the device's own. An authority without the method (an
 * older one) refuses it, which changes nothing here.
 */
export async function reportLocalSelection(client: AuthorityClient, db: ReturnType<typeof openAgentDb>, logger: Logger): Promise<void> {
  const spec = kvGet<SelectionSpec>(db, "selection") ?? EMPTY_SELECTION;
  await client
    .call("report-selection", {
      include: spec.include.slice(0, 1000).map(shownPath),
      exclude: spec.exclude.slice(0, 1000).map(shownPath),
      excludePatterns: spec.excludePatterns.slice(0, 1000),
    })
    .catch((err: unknown) => logger.debug({ err }, "the authority did not take the device's selection"));
}
