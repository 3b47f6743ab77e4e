/**
 * The agent's configuration (`/etc/cairn/agent.toml` for the system service; any file with the
 * global `--config FILE`): every key once, with its default and reason, resolved by the
 * protocol's `resolveConfig` with the precedence flags > environment > TOML file > defaults.
 * `serve` resolves every key; the other commands (`status`, `backup`, `restore`, …) use `data`
 * and `network.https_proxy` from the same sources, so `--config` works with all of them.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { CairnError, type ConfigKey, MINUTE_MS, type ResolvedConfig, resolveConfig } from "@cairn/protocol";

/** The default installation folder of self-upgrades. */
export const DEFAULT_UPGRADE_DIR = "/opt/cairn/agent";

/** The keys of `cairn agent serve`. */
export const AGENT_CONFIG: readonly ConfigKey[] = [
  {
    key: "data",
    type: "string",
    flag: "data",
    env: "CAIRN_AGENT_DATA",
    doc: "Data directory: credentials, keys, the file cache, the local API socket.\nDefault: ~/.local/share/cairn-agent (the system service sets /var/lib/cairn/agent).",
  },
  {
    key: "network.https_proxy",
    type: "string",
    env: "HTTPS_PROXY",
    doc: "HTTPS CONNECT proxy for the authority and storage nodes (http://host:port; also https_proxy).",
  },
  {
    key: "metrics.address",
    type: "string",
    flag: "metricsAddress",
    doc: "HOST:PORT of a plain-HTTP listener for /metrics, /healthz and /readyz. Default: none (the agent\nlistens on no TCP port; the same three paths answer on the local API socket).",
  },
  {
    key: "authority.reconnect_max_delay",
    type: "duration",
    default: MINUTE_MS,
    min: 1000,
    doc: "Longest wait between two attempts to reach the authority (jittered exponential backoff from 1s).",
  },
  { key: "upgrade.enabled", type: "bool", default: true, doc: "Install agent packages the authority offers (Upgrade Clients); false only logs the offers." },
  {
    key: "upgrade.dir",
    type: "string",
    default: DEFAULT_UPGRADE_DIR,
    doc: "Installation folder: packages unpack into versions/VERSION below it, and current (a symlink) points at the\nrunning one (the service runs current/cli/bin/cairn.js); after switching it the agent exits 75 to be restarted.",
  },
  {
    key: "upgrade.package_key",
    type: "string",
    doc: "The authority's package-signing public key (43 base64url characters, `cairn authority agent-package list`).\nDefault: learned from the authority at registration (first use) and pinned in package-key.json of the data directory.",
  },
];

/** The resolved configuration, typed. */
export interface AgentConfig {
  dataDir: string;
  proxy: string | null;
  metrics: { host: string; port: number } | null;
  reconnectMaxDelayMs: number;
  upgrade: { enabled: boolean; dir: string; packageKey: string | null };
}

/** What the command line hands over. */
export interface AgentConfigInputs {
  flags?: Readonly<Record<string, unknown>>;
  env: Readonly<Record<string, string | undefined>>;
  configFile?: string | undefined;
}

async function readToml(file: string): Promise<unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (cause) {
    throw new CairnError("CONFIG_INVALID", `cannot read the configuration file ${file}`, { cause });
  }
  const { parse } = await import("smol-toml");
  try {
    return parse(text);
  } catch (cause) {
    throw new CairnError("CONFIG_INVALID", `${file} is not valid TOML: ${(cause as Error).message}`, { cause });
  }
}

/** Splits `HOST:PORT` (IPv6 in brackets); CONFIG_INVALID otherwise. */
export function parseHostPort(key: string, v: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(v);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m?.[1] || !Number.isInteger(port) || port < 0 || port > 65535) throw new CairnError("CONFIG_INVALID", `${key} is HOST:PORT, got ${JSON.stringify(v)}`);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ""), port };
}

/** Resolves every key (CONFIG_INVALID listing every problem). */
export async function resolveAgentConfig(i: AgentConfigInputs): Promise<{ resolved: ResolvedConfig; config: AgentConfig }> {
  const file = i.configFile ? await readToml(i.configFile) : undefined;
  const env = { ...i.env, ...(i.env.HTTPS_PROXY === undefined && i.env.https_proxy !== undefined ? { HTTPS_PROXY: i.env.https_proxy } : {}) };
  const resolved = resolveConfig(AGENT_CONFIG, {
    flags: i.flags ?? {},
    env,
    file,
    ...(i.configFile ? { fileName: i.configFile } : {}),
    readFile: (p) => readFileSync(p, "utf8"),
  });
  const v = resolved.values;
  let metrics: { host: string; port: number } | null = null;
  try {
    metrics = v["metrics.address"] ? parseHostPort("metrics.address", v["metrics.address"] as string) : null;
  } catch (err) {
    // a bad --metrics-address is bad usage (exit 2, as for the other flags' values); from the
    // environment or the file it stays a configuration error (78)
    if (resolved.sources["metrics.address"] !== "flag") throw err;
    const problem = `flag for metrics.address: expected HOST:PORT, got ${JSON.stringify(v["metrics.address"])}`;
    throw new CairnError("CONFIG_INVALID", `invalid configuration:\n  ${problem}`, { details: { problems: [problem] } });
  }
  return {
    resolved,
    config: {
      dataDir: resolve((v.data as string | undefined) ?? join(homedir(), ".local/share/cairn-agent")),
      proxy: (v["network.https_proxy"] as string | undefined) || null,
      metrics,
      reconnectMaxDelayMs: v["authority.reconnect_max_delay"] as number,
      upgrade: {
        enabled: v["upgrade.enabled"] as boolean,
        dir: resolve(v["upgrade.dir"] as string),
        packageKey: (v["upgrade.package_key"] as string | undefined) ?? null,
      },
    },
  };
}
