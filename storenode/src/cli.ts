/**
 * `cairn storenode …`: the thin command line over this daemon's library. The only module of the
 * package that reads flags and the environment (FAULT_CRASH_AT for crash tests).
 *
 *   init          --data DIR --store-point DIR… [--name N] [--url URL…]
 *                 [--authority URL --authority-fingerprint FP --enroll-key KEY]
 *   serve         --data DIR [--host H] [--port P] [--url URL…] [--reserve-bytes N]
 *                 [--gc-grace DURATION] [--metrics-address HOST:PORT] [--no-authority]
 *                 [--check-config] [--print-default-config]   (and the global --config FILE)
 *   provider-key  --data DIR --tenant NAME [--quota BYTES] [--url URL…]
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CairnError, type CommandContext, GUID_PATTERN, isErrorCode, type ResolvedConfig, renderDefaultConfig, resolveConfig } from "@cairn/protocol";
import { Command, Option } from "commander";
import { parse as parseToml } from "smol-toml";
import { checkCron } from "./maintenance/schedule.js";
import { SERVE_CONFIG } from "./serve-config.js";
import pino, { type Logger } from "pino";
import { maintainNode } from "./admin-client.js";
import { createProviderKey, initStorenode, startStorenode } from "./index.js";

const collect = (v: string, prev: string[]) => [...prev, v];

/** Parses a byte count: plain bytes or with a binary suffix (K, M, G, T); -1 means unlimited. */
export function parseBytes(text: string): number {
  const m = /^(-1|\d+)\s*([kmgt]i?b?)?$/i.exec(text.trim());
  if (!m) throw new CairnError("USAGE", `not a byte count: ${text}`);
  const n = Number(m[1]);
  const unit = (m[2] ?? "").charAt(0).toLowerCase();
  const mult = { "": 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[unit] ?? 1;
  if (n === -1) return -1;
  return n * mult;
}

function makeLogger(ctx: CommandContext, fd: 1 | 2 = 1): Logger {
  return pino(
    {
      level: ctx.logLevel,
      redact: {
        paths: ["*.authorization", "*.token", "*.secret", "*.password", "*.credential", "*.nodeSecret", "*.tenantSecret", "*.cookie", "*.enrollKey"],
        censor: "[redacted]",
      },
    },
    pino.destination({ dest: fd, sync: true }),
  );
}

/** Resolves `serve`'s configuration from its flags (only those given), the environment and the TOML file. */
function serveConfig(ctx: CommandContext, command: Command): ResolvedConfig {
  const flags: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(command.opts())) if (command.getOptionValueSource(name) === "cli") flags[name] = value;
  let file: unknown;
  if (ctx.configFile) {
    let text: string;
    try {
      text = readFileSync(ctx.configFile, "utf8");
    } catch (cause) {
      throw new CairnError("CONFIG_INVALID", `cannot read the configuration file ${ctx.configFile}`, { cause });
    }
    try {
      file = parseToml(text);
    } catch (cause) {
      throw new CairnError("CONFIG_INVALID", `${ctx.configFile} is not valid TOML: ${(cause as Error).message}`, { cause });
    }
  }
  return resolveConfig(SERVE_CONFIG, {
    flags,
    env: ctx.env,
    file,
    ...(ctx.configFile ? { fileName: ctx.configFile } : {}),
    readFile: (p) => readFileSync(p, "utf8"),
  });
}

/** The data directory of the other commands: `--data`, `CAIRN_DATA`, or `data` in the configuration file. */
function dataOf(ctx: CommandContext, flag: string | undefined): string {
  // a named configuration file is read even when --data wins: a missing or malformed one is a
  // configuration error (78) here as for every other command, not silently ignored
  const c = ctx.configFile ? serveConfigFileData(ctx) : undefined;
  if (flag !== undefined) return flag;
  if (ctx.env.CAIRN_DATA !== undefined) return ctx.env.CAIRN_DATA;
  if (c === undefined) throw new CairnError("USAGE", "the data directory is required: --data DIR, CAIRN_DATA, or data in --config FILE");
  return c;
}

function serveConfigFileData(ctx: CommandContext): string | undefined {
  const file = ctx.configFile as string;
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (cause) {
    throw new CairnError("CONFIG_INVALID", `cannot read the configuration file ${file}: ${(cause as Error).message}`, { cause });
  }
  if (doc.data !== undefined && typeof doc.data !== "string") throw new CairnError("CONFIG_INVALID", `${file}: data: expected a string`);
  return doc.data as string | undefined;
}

/**
 * The checks of `serve`'s values beyond their types (the metrics address, the cron schedules), run
 * by `--check-config` too. Returns the metrics address. A bad `--metrics-address` is bad usage
 * (exit 2, like the other flags' values: the dispatcher tells by the "flag for" problem); from the
 * environment or the file it is a configuration error (78).
 */
/**
 * What is wrong with a URL agents are to reach this node at, or null: it must be `wss://` with a
 * host, a port (if any) from 1 to 65535, and no user name, password, query or fragment.
 */
export function announceUrlProblem(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `not a URL: ${JSON.stringify(url)}`;
  }
  if (u.protocol !== "wss:") return `${JSON.stringify(url)} is not wss://`;
  if (!u.hostname) return `${JSON.stringify(url)} has no host`;
  if (u.port !== "" && (Number(u.port) < 1 || Number(u.port) > 65535)) return `${JSON.stringify(url)} has no usable port`;
  if (/^wss:\/\/[^/]*:0+(\/|$)/.test(url)) return `${JSON.stringify(url)} has port 0: agents cannot connect to it`;
  if (u.username || u.password || u.search || u.hash) return `${JSON.stringify(url)} carries a user name, password, query or fragment`;
  return null;
}

/** `--url` values: bad usage (exit 2) when one is unusable. */
function checkUrlFlags(urls: readonly string[]): void {
  for (const u of urls) {
    const p = announceUrlProblem(u);
    if (p) throw new CairnError("USAGE", `--url: ${p}`);
  }
}

function serveChecks(c: ResolvedConfig): { host: string; port: number } | undefined {
  const v = c.values as { "server.metrics_address"?: string; "maintenance.schedule": string; "maintenance.verify_schedule": string; "server.urls"?: string[] };
  const urlProblems = (v["server.urls"] ?? []).flatMap((u) => {
    const p = announceUrlProblem(u);
    return p ? [`${c.sources["server.urls"] === "flag" ? "flag for " : ""}server.urls: ${p}`] : [];
  });
  if (urlProblems.length > 0)
    throw new CairnError("CONFIG_INVALID", `invalid configuration:\n  ${urlProblems.join("\n  ")}`, { details: { problems: urlProblems } });
  let metrics: { host: string; port: number } | undefined;
  const address = v["server.metrics_address"];
  if (address) {
    const m = /^(.*):(\d+)$/.exec(address);
    const port = m ? Number(m[2]) : Number.NaN;
    if (!m?.[1] || !Number.isInteger(port) || port > 65535) {
      const problem = `${c.sources["server.metrics_address"] === "flag" ? "flag for " : ""}server.metrics_address: expected HOST:PORT, got ${JSON.stringify(address)}`;
      throw new CairnError("CONFIG_INVALID", `invalid configuration:\n  ${problem}`, { details: { problems: [problem] } });
    }
    metrics = { host: m[1].replace(/^\[|\]$/g, ""), port };
  }
  for (const k of ["maintenance.schedule", "maintenance.verify_schedule"] as const) if (v[k]) checkCron(v[k]);
  return metrics;
}

/** `serve`: starts the node and runs until the dispatcher's signal aborts (SIGTERM, SIGINT). */
async function serve(ctx: CommandContext, c: ResolvedConfig): Promise<void> {
  const v = c.values as {
    data: string;
    "server.host": string;
    "server.port": number;
    "server.urls"?: string[];
    "server.metrics_address"?: string;
    "storage.reserve": number;
    "gc.grace": number;
    "maintenance.schedule": string;
    "maintenance.verify_schedule": string;
    "authority.connect": boolean;
  };
  const logger = makeLogger(ctx);
  const metrics = serveChecks(c);
  // one node per data folder: a second would serve the same store points and run the same maintenance
  const release =
    existsSync(v.data) && ctx.lockFile ? await ctx.lockFile(join(v.data, "serve.lock"), "another storage node is serving this data folder") : () => undefined;
  let node: Awaited<ReturnType<typeof startStorenode>>;
  try {
    node = await startStorenode({
      dataDir: v.data,
      host: v["server.host"],
      port: v["server.port"],
      logger,
      connectAuthority: v["authority.connect"],
      reserveBytes: v["storage.reserve"],
      gcGraceMs: v["gc.grace"],
      maintenanceSchedule: v["maintenance.schedule"] || null,
      verifySchedule: v["maintenance.verify_schedule"] || null,
      ...(v["server.urls"]?.length ? { urls: v["server.urls"] } : {}),
      ...(metrics ? { metrics } : {}),
      ...(ctx.env.FAULT_CRASH_AT ? { crashAt: ctx.env.FAULT_CRASH_AT } : {}),
    });
  } catch (err) {
    if (c.sources["server.port"] === "default" && err instanceof CairnError && err.code === "UNAVAILABLE") {
      throw new CairnError(
        "UNAVAILABLE",
        `cannot bind port 443 (${String(err.details?.errno ?? "error")}): grant CAP_NET_BIND_SERVICE or pass --port (4285 is the documented choice for a dedicated storage host)`,
      );
    }
    release();
    throw err;
  }
  if (!ctx.json && !ctx.quiet) ctx.stderr.write(`storage node ${node.serverGuid} serving ${node.url} (fingerprint ${node.fingerprint})\n`);
  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve();
    else ctx.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  // Watchdog: a shutdown that hangs (a stuck disk) must not keep the service from stopping.
  const watchdog = setTimeout(() => process.exit(1), 30_000);
  watchdog.unref();
  await node.close();
  clearTimeout(watchdog);
  release();
}

/** Builds the `storenode` subcommand tree. */
export function createCommand(ctx: CommandContext): Command {
  const cmd = new Command("storenode").description("a storage node: store points, archives, versions, retention and verification");

  cmd
    .command("init")
    .description("prepare a data directory: certificate, store points, enrollment with the authority")
    .option("--data <dir>", "data directory (or CAIRN_DATA, or data in --config)")
    .option("--store-point <dir>", "store point directory (repeatable)", collect, [])
    .option("--name <name>", "the node's name")
    .option("--url <url>", "wss URL agents reach this node at (repeatable)", collect, [])
    .option("--authority <url>", "the authority to enroll with (https://host:4285)")
    .option("--authority-fingerprint <fp>", "the authority certificate's SHA-256 fingerprint")
    .option("--enroll-key <key>", "one-time server enroll key from the authority")
    .action(
      async (o: {
        data?: string;
        storePoint: string[];
        name?: string;
        url: string[];
        authority?: string;
        authorityFingerprint?: string;
        enrollKey?: string;
      }) => {
        const given = [o.authority, o.authorityFingerprint, o.enrollKey].filter((v) => v !== undefined).length;
        if (given !== 0 && given !== 3) throw new CairnError("USAGE", "--authority, --authority-fingerprint and --enroll-key go together");
        if (o.storePoint.length === 0) throw new CairnError("USAGE", "at least one --store-point is required");
        checkUrlFlags(o.url);
        const r = await initStorenode({
          dataDir: dataOf(ctx, o.data),
          storePoints: o.storePoint,
          ...(o.name ? { name: o.name } : {}),
          ...(o.url.length ? { urls: o.url } : {}),
          ...(o.authority && o.authorityFingerprint && o.enrollKey
            ? { authority: { url: o.authority, fingerprint: o.authorityFingerprint, enrollKey: o.enrollKey } }
            : {}),
          // Logs to stderr: stdout carries the result (one JSON document under --json).
          logger: makeLogger(ctx, 2).child({ component: "storenode" }),
        });
        ctx.print(r, `storage node ${r.serverGuid} initialized${r.enrolled ? " and enrolled" : " (standalone)"}\ncertificate fingerprint ${r.fingerprint}`);
      },
    );

  cmd
    .command("serve")
    .description("serve agents and authorities (wss, port 443 by default)")
    .option("--data <dir>", "data directory")
    .option("--host <host>", "address to listen on (default 0.0.0.0)")
    .option("--port <port>", "port to listen on (default 443; 0 picks a free one)")
    .option("--url <url>", "wss URL to announce (repeatable)", collect, [])
    .option("--reserve-bytes <bytes>", "free space kept on each store point (default 256MiB)")
    .option("--gc-grace <duration>", "grace period before unreferenced blocks are collected (default 24h)")
    .option("--metrics-address <host:port>", "serve /metrics on a separate plain-HTTP address")
    .option("--no-authority", "do not dial the own authority")
    .option("--check-config", "validate the configuration, show where each value comes from, and exit")
    .option("--print-default-config", "print a commented default configuration file and exit")
    .action(async (o: { checkConfig?: boolean; printDefaultConfig?: boolean }, command: Command) => {
      if (o.printDefaultConfig) {
        ctx.stdout.write(renderDefaultConfig(SERVE_CONFIG, "cairn storenode serve (/etc/cairn/storenode.toml)"));
        return;
      }
      const c = serveConfig(ctx, command);
      serveChecks(c);
      if (o.checkConfig) {
        void ctx.logLevel; // CAIRN_LOG_LEVEL is configuration too: a bad one exits 78 here as at serve
        ctx.print(
          { ok: true, values: c.values, sources: c.sources },
          Object.entries(c.values)
            .map(([k, v]) => `${k} = ${JSON.stringify(v)}  (${c.sources[k]})`)
            .join("\n"),
        );
        return;
      }
      await serve(ctx, c);
    });

  const maintainAction = (verify: boolean) => async (o: { data?: string; archive?: string; verify?: boolean }) => {
    if (o.archive !== undefined && !GUID_PATTERN.test(o.archive))
      throw new CairnError(
        "USAGE",
        `--archive takes an archive guid (6 to 20 decimal digits, not starting with 0), not ${JSON.stringify(o.archive.slice(0, 100))}`,
      );
    const r = await maintainNode({
      dataDir: dataOf(ctx, o.data),
      archiveGuid: o.archive ?? null,
      verify: verify || o.verify === true,
      verifyOnly: verify,
      // stderr, redacted: stdout carries the result (one JSON document under --json)
      logger: makeLogger(ctx, 2),
    });
    const damage = r.damaged ?? [];
    ctx.print(
      r,
      [
        `${r.archives} archives (${r.via}): ${r.prunedVersions} versions pruned, ${r.removedBlocks} blocks removed, ${r.compactBytesRemoved} bytes compacted${verify || o.verify ? `, ${r.damagedBlocks} damaged blocks` : ""}`,
        ...damage.map(
          (d) =>
            `archive ${d.archiveGuid}: ${d.blocks} damaged blocks, referenced by ${d.files} files in versions ${d.versions.join(", ") || "(none)"}; file ids ${d.fileIds.join(" ") || "(none)"}`,
        ),
      ].join("\n"),
    );
    if (r.damagedBlocks > 0) {
      const where = damage.map((d) => `archive ${d.archiveGuid}: ${d.files} files, versions ${d.versions.join(", ") || "(none)"}`).join("; ");
      throw new CairnError("INTEGRITY", `${r.damagedBlocks} stored blocks failed verification${where ? ` (${where})` : ""}`);
    }
    // an archive whose maintenance was refused (a referenced block missing, the clock going back)
    // fails the command, naming each archive and why; the others were maintained
    const first = r.refused[0];
    if (first !== undefined) {
      const all = r.refused.map((x) => `archive ${x.archiveGuid}: ${x.code}: ${x.message}`).join("; ");
      throw new CairnError(isErrorCode(first.code) ? first.code : "INTERNAL", `maintenance refused for ${r.refused.length} archive(s) (${all})`);
    }
  };
  cmd
    .command("maintain")
    .description("run maintenance now: prune by retention, collect garbage, compact (and verify with --verify)")
    .option("--data <dir>", "data directory (or CAIRN_DATA, or data in --config)")
    .option("--archive <guid>", "only this archive")
    .option("--verify", "also verify every stored block against its SHA-256")
    .action(maintainAction(false));
  cmd
    .command("verify")
    .description("verify every stored block against its SHA-256 (exits 1 when any is damaged)")
    .option("--data <dir>", "data directory (or CAIRN_DATA, or data in --config)")
    .option("--archive <guid>", "only this archive")
    .action(maintainAction(true));

  cmd
    .command("provider-key")
    .description("issue a provider key that lets another authority use this node as a tenant")
    .option("--data <dir>", "data directory (or CAIRN_DATA, or data in --config)")
    .requiredOption("--tenant <name>", "tenant name")
    .addOption(new Option("--quota <bytes>", "tenant quota (bytes, or with K/M/G/T; -1 unlimited)").argParser(parseBytes))
    .option("--url <url>", "wss URL to put in the key (repeatable)", collect, [])
    .action((o: { data?: string; tenant: string; quota?: number; url: string[] }) => {
      checkUrlFlags(o.url);
      const r = createProviderKey({
        dataDir: dataOf(ctx, o.data),
        tenantName: o.tenant,
        ...(o.quota === undefined ? {} : { quotaBytes: o.quota }),
        ...(o.url.length ? { urls: o.url } : {}),
      });
      ctx.print(r, r.providerKey);
    });

  return cmd;
}
