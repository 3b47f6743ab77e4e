/**
 * `cairn agent …`: the thin command line over this daemon's library. The only module of the
 * package that reads flags and the environment (`HTTPS_PROXY`, `CAIRN_AGENT_DATA`).
 *
 * JSON shapes (other tools depend on these names; docs/agent.md lists them all):
 * - `register --json` → `{guid, userUid, orgUid, keyPolicy, deviceName}`
 * - `status --json` → {@link AgentStatus} (`guid`, `userUid`, `orgUid`, `destinations[]` with
 *   `lastCompletedBackup`, `selectedFiles`, `selectedBytes`, `todoFiles`, `todoBytes`)
 * - `backup --json` → JSON Lines `{message_type: "status", …}` then one
 *   `{message_type: "summary", versionTime, files, bytes, changedFiles, uploadedBytes, errors, …}`
 * - `versions --json` → `[{versionTime, size, deleted, seq}]`
 * - `restore --json` → status lines then `{message_type: "summary", files, bytes, errors, …}`
 */
import { existsSync, lstatSync, realpathSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve, sep } from "node:path";
import { CairnError, type CommandContext, EXIT, exitCodeFor, GUID_PATTERN } from "@cairn/protocol";
import { Command, Option } from "commander";
import pino, { type Logger } from "pino";
import type { RunBackupResult } from "./agent-api.js";
import type { ProgressEvent, ProgressSink } from "./progress.js";

interface DataOpt {
  data?: string;
}

let fileConfig: { data?: string; proxy?: string | null } | null = null;

/** `data` and the proxy from `--config FILE` (read once; flags and the environment win). */
async function loadFileConfig(ctx: CommandContext): Promise<void> {
  if (!ctx.configFile || fileConfig !== null) return;
  const { resolveAgentConfig } = await import("./config/agent-config.js");
  const r = await resolveAgentConfig({ env: ctx.env, configFile: ctx.configFile });
  fileConfig = { data: r.config.dataDir, proxy: r.config.proxy };
}

function dataDir(ctx: CommandContext, o: DataOpt): string {
  return resolve(o.data ?? ctx.env.CAIRN_AGENT_DATA ?? fileConfig?.data ?? join(homedir(), ".local/share/cairn-agent"));
}

function proxyOf(ctx: CommandContext): string | null {
  return ctx.env.HTTPS_PROXY ?? ctx.env.https_proxy ?? fileConfig?.proxy ?? null;
}

function cliLogger(ctx: CommandContext, daemon = false): Logger {
  const level = daemon ? ctx.logLevel : ctx.verbose ? "debug" : "warn";
  return pino(
    { level, redact: ["password", "token", "deviceToken", "userKey", "archiveKey", "*.password", "*.token", "authorization"] },
    pino.destination(daemon ? 1 : 2),
  );
}

/**
 * For paths a restore found nothing for: the ones deleted in a later version, with the newest
 * time at which they still existed (a person restoring a file they deleted yesterday gets the
 * command that brings it back). Paths with no version at all, or on a failed lookup, give none.
 */
async function deletedHints(dir: string, paths: string[], archiveGuid: string | undefined, logger: Logger, proxy: string | null): Promise<string[]> {
  const { listVersions } = await import("./agent-api.js");
  const hints: string[] = [];
  for (const path of paths) {
    const v = await listVersions({ dataDir: dir, path, logger, proxy, ...(archiveGuid ? { archiveGuid } : {}) }).catch(() => []);
    const last = v.filter((x) => !x.deleted).at(-1);
    const gone = v.at(-1)?.deleted === true;
    if (last && gone)
      hints.push(`${path} was deleted after its version of ${last.versionTime}: cairn agent restore --at ${last.versionTime} ${shellQuote(path)}`);
  }
  return hints;
}

/** A path as a shell word (the hints are commands to paste). */
function shellQuote(s: string): string {
  return /^[A-Za-z0-9_/.,:@%+=-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

function parseTime(s: string | undefined): number | null {
  if (s === undefined) return null;
  const t = Date.parse(s);
  if (!Number.isFinite(t)) throw new CairnError("USAGE", `--at wants an ISO-8601 time, got ${JSON.stringify(s)}`);
  return t;
}

/**
 * Whether this device shows no status output: `--quiet`, or the organization's client
 * visibility "hidden" (no progress bar, no summary; errors and `--json` output stay).
 */
async function silentOn(ctx: CommandContext, dir: string): Promise<boolean> {
  if (ctx.quiet) return true;
  const { deviceVisibility } = await import("./agent-api.js");
  return deviceVisibility(dir) === "hidden";
}

async function progressSink(ctx: CommandContext, label: string, silent = false): Promise<{ sink: ProgressSink; stop: () => void }> {
  const { throttled, rateAndEta } = await import("./progress.js");
  const t0 = performance.now();
  if (ctx.json) {
    const sink = throttled((p: ProgressEvent) => {
      const { bytesPerSec, etaSec } = rateAndEta(p.doneBytes, p.totalBytes, performance.now() - t0);
      ctx.printJsonLine({
        message_type: "status",
        phase: p.phase,
        total_files: p.totalFiles,
        total_bytes: p.totalBytes,
        files_done: p.doneFiles,
        bytes_done: p.doneBytes,
        uploaded_bytes: p.uploadedBytes,
        errors: p.errors,
        bytes_per_second: Math.round(bytesPerSec),
        seconds_remaining: etaSec === null ? null : Math.round(etaSec),
      });
    }, 1000);
    return { sink, stop: () => undefined };
  }
  if (!ctx.progressAllowed || silent) return { sink: () => undefined, stop: () => undefined };
  const [{ default: cliProgress }, { default: prettyBytes }] = await Promise.all([import("cli-progress"), import("pretty-bytes")]);
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {done} / {total} | {rate}/s | ETA {eta_formatted} | {files} files`,
      stream: ctx.stderr as NodeJS.WriteStream,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const sink = throttled((p: ProgressEvent) => {
    const { bytesPerSec } = rateAndEta(p.doneBytes, p.totalBytes, performance.now() - t0);
    const payload = { done: prettyBytes(p.doneBytes), total: prettyBytes(p.totalBytes), rate: prettyBytes(bytesPerSec), files: p.doneFiles };
    if (!started) {
      bar.start(Math.max(1, p.totalBytes), p.doneBytes, payload);
      started = true;
    }
    bar.setTotal(Math.max(1, p.totalBytes));
    bar.update(p.doneBytes, payload);
  }, 200);
  return { sink, stop: () => started && bar.stop() };
}

/** Builds the `agent` subcommand tree. */
export function createCommand(ctx: CommandContext): Command {
  const cmd = new Command("agent").description("the device agent: selection, real-time backup and restore");
  // `--config FILE` names the data directory and the proxy for every command, not only serve
  cmd.hook("preAction", async (_this, action) => {
    if (action.name() !== "serve") await loadFileConfig(ctx);
  });
  const data = () => new Option("--data <dir>", "agent data directory (default $CAIRN_AGENT_DATA or ~/.local/share/cairn-agent)");

  cmd
    .command("register")
    .description("register this device with an authority")
    .addOption(data())
    .requiredOption("--authority <url>", "authority URL (https://host:port)")
    .requiredOption("--authority-fingerprint <fp>", "SHA-256 fingerprint of the authority's certificate")
    .requiredOption("--registration-key <key>", "the organization's registration key")
    .requiredOption("--username <user>", "user name")
    .requiredOption("--password <password>", "user password")
    .option("--name <device>", "device name (default: host name)")
    .option("--totp <code>", "ignored: two-factor authentication does not apply to the agent (accepted for older scripts)")
    .option("--archive-password <pw>", "archive password (key policy: password)")
    .option("--custom-key <hex>", "custom key, 64 hex digits (key policy: custom)")
    .option(
      "--custom-key-file <path>",
      "where the user's existing key is saved when it becomes a custom key at this registration (a policy raised to custom keys)",
    )
    .action(async (o: DataOpt & Record<string, string | undefined>) => {
      if (o.customKey !== undefined && !/^[0-9a-fA-F]{64}$/.test(o.customKey)) throw new CairnError("USAGE", "--custom-key takes 64 hexadecimal digits");
      // a value that is no SHA-256 fingerprint at all is a bad flag (2), not a mismatch (12)
      if ((o.authorityFingerprint ?? "").replace(/^sha256:/i, "").replace(/[^0-9a-fA-F]/g, "").length !== 64)
        throw new CairnError("USAGE", "--authority-fingerprint takes the certificate's SHA-256 fingerprint: 64 hexadecimal digits (colons allowed)");
      const { registerAgent } = await import("./auth/registration.js");
      const { systemClock } = await import("@cairn/protocol");
      const r = await registerAgent({
        dataDir: dataDir(ctx, o),
        authorityUrl: o.authority as string,
        authorityFingerprint: o.authorityFingerprint as string,
        registrationKey: o.registrationKey as string,
        username: o.username as string,
        password: o.password as string,
        totp: o.totp ?? null,
        ...(o.name ? { deviceName: o.name } : {}),
        ...(o.archivePassword ? { archivePassword: o.archivePassword } : {}),
        ...(o.customKey ? { customKey: o.customKey } : {}),
        ...(o.customKeyFile ? { customKeyFile: resolve(o.customKeyFile) } : {}),
        clock: systemClock,
        logger: cliLogger(ctx),
        proxy: proxyOf(ctx),
      });
      const { pinAtRegistration } = await import("./upgrade/package-key.js");
      await pinAtRegistration(dataDir(ctx, o), proxyOf(ctx), systemClock.now());
      ctx.print(r, `registered device ${r.guid} (${r.deviceName}) for user ${r.userUid}`);
    });

  cmd
    .command("key-policy")
    .description("this device's key policy and the organization's; protect the user key under a raised policy")
    .addOption(data())
    .option("--archive-password <pw>", "protect the user key with this archive password (policy: password)")
    .option("--custom", "make the user key a custom key the authority never holds (policy: custom), saved in --key-file")
    .option("--key-file <path>", "with --custom: a new file (0600) to save the key in; it is never printed")
    .action(async (o: DataOpt & { archivePassword?: string; custom?: boolean; keyFile?: string }) => {
      const dir = dataDir(ctx, o);
      const { keyPolicyState, raiseKeyPolicy } = await import("./auth/key-policy.js");
      if (o.archivePassword !== undefined || o.custom) {
        const { systemClock } = await import("@cairn/protocol");
        const r = await raiseKeyPolicy({
          dataDir: dir,
          ...(o.archivePassword !== undefined ? { archivePassword: o.archivePassword } : {}),
          ...(o.custom ? { custom: true } : {}),
          ...(o.keyFile ? { customKeyFile: resolve(o.keyFile) } : {}),
          clock: systemClock,
          logger: cliLogger(ctx),
          proxy: proxyOf(ctx),
        });
        ctx.print(
          r,
          r.customKeyFile
            ? `the user key is now a custom key that the authority does not hold, saved in ${r.customKeyFile}. Keep that file safe and away from this device: registering another device, or restoring after this one is lost, needs it (cairn agent register --custom-key)`
            : "the user key is now protected by the archive password; the authority holds only that wrapping",
        );
        return;
      }
      const { requireCredentials } = await import("./state/credentials.js");
      requireCredentials(dir);
      const s = keyPolicyState(dir);
      ctx.print(
        s,
        s.device === null
          ? "not registered"
          : `this device: ${s.device}; the organization: ${s.org ?? "unknown (never synced)"}${
              s.required
                ? `; the organization requires ${s.required}: run cairn agent key-policy ${s.required === "password" ? "--archive-password <pw>" : "--custom --key-file <path>"}`
                : ""
            }`,
      );
    });

  cmd
    .command("serve")
    .description("run the agent daemon: watch, back up on schedule, take restore orders, install offered upgrades")
    .addOption(data())
    .option("--metrics-address <host:port>", "serve /metrics, /healthz and /readyz on a plain-HTTP address (default: none)")
    .option("--check-config", "validate the configuration, show where each value comes from, and exit")
    .option("--print-default-config", "print a commented default configuration file and exit")
    // Every daemon takes --host and --port (ARCHITECTURE.md). The agent listens on no TCP port by
    // default (DECISIONS.md: its CLI reaches it through agent.sock); given --port, it serves its
    // plain-HTTP /healthz, /readyz and /metrics there (port 0: a free one, printed), as
    // --metrics-address does.
    .addOption(new Option("--host <address>", "with --port: the address of /healthz and /metrics (default 127.0.0.1)"))
    .addOption(new Option("--port <port>", "serve /healthz, /readyz and /metrics on this port (0: a free one, printed); default: no TCP port"))
    .action(async (o: DataOpt & { checkConfig?: boolean; printDefaultConfig?: boolean; host?: string; port?: string }, command: Command) => {
      const { AGENT_CONFIG, resolveAgentConfig } = await import("./config/agent-config.js");
      if (o.printDefaultConfig) {
        const { renderDefaultConfig } = await import("@cairn/protocol");
        ctx.stdout.write(renderDefaultConfig(AGENT_CONFIG, "cairn agent serve (/etc/cairn/agent.toml)"));
        return;
      }
      // --port is checked before --check-config answers, as the other daemons' flag values are
      let port: number | null = null;
      if (o.port !== undefined) {
        port = Number(o.port);
        if (!/^\d+$/.test(o.port) || port > 65535) throw new CairnError("USAGE", `--port wants a port number (0-65535), got ${JSON.stringify(o.port)}`);
      }
      const flags: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(command.opts()))
        if (command.getOptionValueSource(name) === "cli" && name !== "host" && name !== "port") flags[name] = value;
      const { resolved, config } = await resolveAgentConfig({ flags, env: ctx.env, configFile: ctx.configFile });
      if (o.checkConfig) {
        void ctx.logLevel; // CAIRN_LOG_LEVEL is configuration too: a bad one exits 78 here as at serve
        ctx.print(
          { ok: true, values: resolved.values, sources: resolved.sources },
          Object.entries(resolved.values)
            .map(([k, v]) => `${k} = ${JSON.stringify(v)}  (${resolved.sources[k]})`)
            .join("\n"),
        );
        return;
      }
      const { startAgent } = await import("./daemon/agent-daemon.js");
      const logger = cliLogger(ctx, true);
      const metricsAddress = port !== null ? { host: o.host ?? "127.0.0.1", port } : config.metrics;
      if (port === null && o.host !== undefined)
        logger
          .child({ component: "agent" })
          .info({ host: o.host }, "--host without --port ignored: the agent daemon listens on no TCP port (its CLI uses agent.sock)");
      let upgraded: string | null = null;
      let wake: () => void = () => undefined;
      const agent = await startAgent({
        dataDir: config.dataDir,
        logger,
        proxy: config.proxy,
        metricsAddress,
        reconnectMaxDelayMs: config.reconnectMaxDelayMs,
        upgrade: { ...config.upgrade, managed: runsFrom(config.upgrade.dir) },
        onRestart: (version) => {
          upgraded = version;
          wake();
        },
      });
      try {
        if (agent.metricsUrl) {
          const u = new URL(agent.metricsUrl);
          // the line that tells a supervisor or a script the chosen port: at any level but silent
          const log = logger.child({ component: "agent" });
          const announce = log.level === "silent" || log.isLevelEnabled("info") ? log : log.child({}, { level: "info" });
          announce.info({ host: u.hostname.replace(/^\[(.*)\]$/, "$1"), port: Number(u.port) }, "listening");
          if (!ctx.json && !ctx.quiet) ctx.stderr.write(`agent daemon serving ${u.origin} (/healthz, /readyz, /metrics)\n`);
        }
      } catch (err) {
        await agent.close();
        throw err;
      }
      await new Promise<void>((r) => {
        wake = r;
        if (ctx.signal.aborted) r();
        ctx.signal.addEventListener("abort", () => r(), { once: true });
      });
      await agent.close();
      if (upgraded !== null) {
        logger.info({ version: upgraded }, "exiting for the service manager to start the upgraded agent");
        ctx.setExitCode(EXIT.RESTART_TO_UPGRADE);
      }
    });

  cmd
    .command("backup")
    .description("back up now; returns when the version is committed (through the daemon when `serve` runs for this data directory)")
    .addOption(data())
    .option("--full", "scan the whole selection even when the daemon's watcher knows what changed")
    .action(async (o: DataOpt & { full?: boolean }) => {
      const dir = dataDir(ctx, o);
      const silent = await silentOn(ctx, dir);
      // outside the organization's run window nothing is sent until it opens: say so, or the
      // wait looks like a hang
      if (!ctx.json && !silent) {
        const { runWindowWait } = await import("./agent-api.js");
        const opens = runWindowWait(dir);
        if (opens !== null)
          ctx.stderr.write(`outside this device's backup run window: the backup sends nothing until it opens (${opens}); it goes on by itself then\n`);
      }
      const p = await progressSink(ctx, "backup", silent);
      try {
        // A daemon serving this data directory backs up what its watcher saw change (and holds
        // the run lock): ask it, and wait for the committed version. Otherwise: a full scan here.
        let r: RunBackupResult | null = null;
        if (existsSync(join(dir, "agent.sock"))) {
          const { backupThroughDaemon } = await import("./daemon/local-api.js");
          r = (await backupThroughDaemon(dir, {
            full: o.full === true,
            onProgress: (x) => p.sink(x as ProgressEvent),
            signal: ctx.signal,
          })) as RunBackupResult | null;
        }
        if (r === null) {
          const { runBackup } = await import("./agent-api.js");
          // a backup the user waits for runs at full speed: the organization's CPU share
          // (`cpuPresentPercent`) paces the daemon's background backups
          r = await runBackup({ dataDir: dir, logger: cliLogger(ctx), proxy: proxyOf(ctx), progress: p.sink, signal: ctx.signal, cpuPercent: 100 });
        }
        p.stop();
        const summary = {
          message_type: "summary",
          ...r,
          // every time in the command's output is ISO-8601, the destinations' too (docs/agent.md)
          destinations: r.destinations.map(({ errorList, ...d }) => ({
            ...d,
            versionTime: new Date(d.versionTime).toISOString(),
            errorList: errorList.slice(0, 50),
          })),
        };
        if (ctx.json) ctx.printJsonLine(summary);
        else {
          const { default: prettyBytes } = await import("pretty-bytes");
          const lines = [
            `version ${r.versionTime}: ${r.files} files (${prettyBytes(r.bytes)}), ${r.changedFiles} changed, ${prettyBytes(r.uploadedBytes)} uploaded`,
          ];
          for (const d of r.destinations) for (const e of d.errorList.slice(0, 20)) lines.push(`  error: ${e.path}: ${e.message}`);
          if (r.errors > 0) lines.push(`${r.errors} file(s) could not be read`);
          for (const f of r.failed ?? []) lines.push(`  destination of archive ${f.archiveGuid} failed (${f.code}): ${f.message}`);
          // --quiet (or a hidden agent) leaves out the summary, never the files that could not be read
          const shown = silent ? lines.slice(1) : lines;
          if (shown.length > 0) ctx.stdout.write(`${shown.join("\n")}\n`);
        }
        if (r.errors > 0) {
          ctx.setExitCode(EXIT.PARTIAL);
          // under --json every failing exit has its exit_error line (docs/cli.md "Output contract")
          const first = r.destinations.flatMap((d) => d.errorList)[0];
          if (ctx.json)
            ctx.stderr.write(
              `${JSON.stringify({ message_type: "exit_error", code: EXIT.PARTIAL, error: "PARTIAL", message: `${r.errors} file(s) could not be read${first ? ` (first: ${first.path}: ${first.message})` : ""}` })}\n`,
            );
        }
        // a destination that failed while others committed: the run failed for it
        const failed = r.failed ?? [];
        if (failed.length > 0)
          jsonFailure(
            ctx,
            failed[0]?.code ?? "INTERNAL",
            failed.map((f) => `destination of archive ${f.archiveGuid} failed (${f.code}): ${f.message}`).join("; "),
          );
      } finally {
        p.stop();
      }
    });

  const select = cmd.command("select").description("the local file selection");
  for (const op of ["add", "remove"] as const) {
    select
      .command(op)
      .description(op === "add" ? "add paths to the selection" : "remove paths from the selection")
      .argument("<paths...>")
      .addOption(data())
      .action(async (paths: string[], o: DataOpt) => {
        const { changeSelection } = await import("./agent-api.js");
        if (paths.some((p) => p.trim() === "")) throw new CairnError("USAGE", "an empty path is not a file or folder to select");
        const items = paths.map((p) => resolve(p));
        const s = changeSelection({ dataDir: dataDir(ctx, o), op, items });
        await notifyDaemon(dataDir(ctx, o));
        // a path that does not exist is selected all the same (removable media, a folder made
        // later), but a typo must not pass unnoticed: nothing would ever be backed up from it
        const missing = op === "add" ? items.filter((p) => lstatSync(p, { throwIfNoEntry: false }) === undefined) : [];
        const lines = [`include: ${s.include.join(", ") || "(none)"}; exclude: ${s.exclude.join(", ") || "(none)"}`];
        for (const m of missing) lines.push(`warning: ${m} does not exist (yet): it is selected, and backed up once it does`);
        ctx.print(missing.length > 0 ? { ...s, missing } : s, lines.join("\n"));
      });
  }
  select
    .command("exclude")
    .description("add exclusion patterns (regular expressions on absolute paths)")
    .argument("<patterns...>")
    .addOption(data())
    .action(async (patterns: string[], o: DataOpt) => {
      const { changeSelection } = await import("./agent-api.js");
      const s = changeSelection({ dataDir: dataDir(ctx, o), op: "exclude", items: patterns });
      await notifyDaemon(dataDir(ctx, o));
      ctx.print(s, `exclusion patterns: ${s.excludePatterns.join(", ")}`);
    });
  select
    .command("list")
    .description("show the selection (local and effective per destination)")
    .addOption(data())
    .action(async (o: DataOpt) => {
      const { listSelection } = await import("./agent-api.js");
      const s = listSelection({ dataDir: dataDir(ctx, o) });
      ctx.print(
        s,
        [
          `include: ${s.local.include.join(", ") || "(none)"}`,
          `exclude: ${s.local.exclude.join(", ") || "(none)"}`,
          `patterns: ${s.local.excludePatterns.join(", ") || "(none)"}`,
          s.locked ? "(locked by the organization)" : "",
        ]
          .filter(Boolean)
          .join("\n"),
      );
    });

  cmd
    .command("status")
    .description("registration, destinations and backup figures (exit 10 when the device is not registered)")
    .addOption(data())
    .action(async (o: DataOpt) => {
      const { agentStatus } = await import("./agent-api.js");
      const dir = dataDir(ctx, o);
      const s = agentStatus({ dataDir: dir });
      // A daemon serving this folder knows what its watcher saw change since the last backup (the
      // figures stored above are the last backup's) and whether a backup is running.
      let daemon: { backingUp: boolean; restoring: boolean; pendingChanges: number } | null = null;
      if (existsSync(join(dir, "agent.sock"))) {
        const { callDaemon } = await import("./daemon/local-api.js");
        const live = (await callDaemon(dir, "GET", "/status", 3000).catch(() => null)) as {
          backingUp?: boolean;
          restoring?: boolean;
          pendingChanges?: number;
        } | null;
        if (live) daemon = { backingUp: live.backingUp === true, restoring: live.restoring === true, pendingChanges: live.pendingChanges ?? 0 };
      }
      // The status is printed either way; the exit code says "not registered" (10) to scripts.
      if (!s.registered) {
        ctx.setExitCode(EXIT.NOT_REGISTERED);
        if (ctx.json)
          ctx.stderr.write(
            `${JSON.stringify({ message_type: "exit_error", code: EXIT.NOT_REGISTERED, error: "NOT_REGISTERED", message: `this agent is not registered (no credentials in ${dir})` })}\n`,
          );
      }
      if (ctx.json) return ctx.print({ ...s, daemon });
      if (s.visibility === "hidden") return;
      const lines = [s.registered ? `device ${s.guid} (${s.deviceName}), user ${s.username} (${s.userUid}), org ${s.orgUid}` : "not registered"];
      if (s.keyPolicyRequired)
        lines.push(
          `  the organization requires the ${s.keyPolicyRequired} key policy: run cairn agent key-policy ${s.keyPolicyRequired === "password" ? "--archive-password <pw>" : "--custom --key-file <path>"}`,
        );
      if (daemon)
        lines.push(
          `  daemon: ${daemon.backingUp ? "backing up" : daemon.restoring ? "restoring" : "idle"}, ${daemon.pendingChanges} changed path(s) not backed up yet`,
        );
      // a deauthorized device's archives are no longer its to report
      for (const d of s.registered ? s.destinations : []) {
        lines.push(
          `  ${d.name || d.destinationGuid}: archive ${d.archiveGuid}, last completed backup ${d.lastCompletedBackup ?? "never"}, ${d.selectedFiles} files / ${d.selectedBytes} bytes selected, to do ${d.todoFiles} files / ${d.todoBytes} bytes`,
        );
        if (d.lastError) lines.push(`    last backup failed at ${d.lastError.at} (${d.lastError.code}): ${d.lastError.message}`);
      }
      ctx.stdout.write(`${lines.join("\n")}\n`);
    });

  cmd
    .command("versions")
    .description("every backed-up version of one file")
    .argument("<path>")
    .addOption(data())
    .option("--archive <guid>", "the archive to look in (`status` lists them; default: the one backed up to last)")
    .action(async (path: string, o: DataOpt & { archive?: string }) => {
      const { listVersions } = await import("./agent-api.js");
      const v = await listVersions({
        dataDir: dataDir(ctx, o),
        path: resolve(path),
        logger: cliLogger(ctx),
        proxy: proxyOf(ctx),
        ...(o.archive !== undefined ? { archiveGuid: o.archive } : {}),
      });
      ctx.print(v, v.map((x) => `${x.versionTime}  ${x.deleted ? "deleted" : `${x.size} bytes`}`).join("\n") || "no versions");
    });

  cmd
    .command("restore")
    .description("restore files from the archive")
    .argument("[paths...]", "absolute paths to restore (default: everything)")
    .addOption(data())
    .option("--at <time>", "restore the newest version at or before this ISO-8601 time")
    .option("--to <dir>", "restore into this folder (default: the original place)")
    .addOption(
      new Option("--existing <policy>", 'a file already there: overwrite it, or rename it to "name (original).ext" first')
        .choices(["overwrite", "rename"])
        .default("overwrite"),
    )
    .option("--full-path", "with --to: keep each file's full original path below the folder")
    .option("--archive <guid>", "restore from this archive (`status` lists them; default: the one backed up to last)")
    .action(async (paths: string[], o: DataOpt & { at?: string; to?: string; existing: "overwrite" | "rename"; fullPath?: boolean; archive?: string }) => {
      if (o.archive !== undefined && !GUID_PATTERN.test(o.archive))
        throw new CairnError(
          "USAGE",
          `--archive takes an archive guid (6 to 20 decimal digits, as \`cairn agent status\` lists them), not ${JSON.stringify(o.archive.slice(0, 100))}`,
        );
      const { runRestore } = await import("./agent-api.js");
      const silent = await silentOn(ctx, dataDir(ctx, o));
      const p = await progressSink(ctx, "restore", silent);
      try {
        const r = await runRestore({
          dataDir: dataDir(ctx, o),
          at: parseTime(o.at),
          paths: paths.map((x) => resolve(x)),
          target: o.to ? resolve(o.to) : null,
          existing: o.existing,
          ...(o.fullPath ? { fullPath: true } : {}),
          ...(o.archive ? { archiveGuid: o.archive } : {}),
          logger: cliLogger(ctx),
          proxy: proxyOf(ctx),
          progress: p.sink,
          signal: ctx.signal,
        });
        p.stop();
        const versionTime = r.versionTime === null ? null : new Date(r.versionTime).toISOString();
        if (ctx.json) ctx.printJsonLine({ message_type: "summary", ...r, versionTime });
        else {
          const lines = [`restored ${r.files} files (${r.bytes} bytes), ${r.dirs} folders, ${r.symlinks} links from the version of ${versionTime}`];
          for (const w of r.warnings) lines.push(`  warning: ${w.code}: ${w.message}`);
          for (const e of r.errorList.slice(0, 20)) lines.push(`  error: ${e.path}: ${e.message}`);
          if (r.errors > 0) lines.push(`${r.errors} item(s) failed`);
          // --quiet (or a hidden agent) leaves out the summary, never the items that failed
          const shown = silent ? lines.slice(1) : lines;
          if (shown.length > 0) ctx.stdout.write(`${shown.join("\n")}\n`);
        }
        if (r.errors > 0) {
          const first = r.errorList[0];
          jsonFailure(ctx, "RESTORE_FAILED", `${r.errors} item(s) failed${first ? ` (first: ${first.path}: ${first.code}: ${first.message})` : ""}`);
        }
        // a person asking for a lost file must not read "restored 0 files" as success, nor a
        // list of files with one left out as all of them
        if (paths.length > 0 && r.errors === 0 && (r.files + r.dirs + r.symlinks === 0 || r.missing.length > 0)) {
          const none = r.files + r.dirs + r.symlinks === 0;
          const asked = none ? paths.map((x) => resolve(x)) : r.missing;
          const hints = await deletedHints(dataDir(ctx, o), asked.slice(0, 10), o.archive, cliLogger(ctx), proxyOf(ctx));
          throw new CairnError(
            "NOT_FOUND",
            `${none ? "nothing" : "the rest was restored; nothing"} in the version of ${versionTime ?? "?"} matches ${asked.join(", ")}${hints.map((h) => `\n  ${h}`).join("")}`,
          );
        }
      } finally {
        p.stop();
      }
    });

  cmd
    .command("deauthorize")
    .description("sign this device out: tells the authority (the device shows deauthorized), then wipes the device credential and every key")
    .addOption(data())
    .action(async (o: DataOpt) => {
      const { deauthorize } = await import("./daemon/deauthorize.js");
      const r = await deauthorize(dataDir(ctx, o), { proxy: proxyOf(ctx) });
      ctx.print(
        r,
        r.authorityNotified
          ? "signed out at the authority; credentials and keys wiped"
          : `credentials and keys wiped; the authority was not told (${r.authorityError?.message ?? "no credential"}): an administrator can deauthorize the device in the console`,
      );
    });

  cmd
    .command("destinations")
    .description("destinations offered to this device; opt in or out of one")
    .addOption(data())
    .option("--opt-in <guid>", "back up to a destination offered without auto-start")
    .option("--opt-out <guid>", "stop backing up to an opted-in destination")
    .action(async (o: DataOpt & { optIn?: string; optOut?: string }) => {
      const dir = dataDir(ctx, o);
      for (const [flag, v] of [
        ["--opt-in", o.optIn],
        ["--opt-out", o.optOut],
      ] as const)
        if (v !== undefined && !GUID_PATTERN.test(v))
          throw new CairnError(
            "USAGE",
            `${flag} takes a destination guid (6 to 20 decimal digits, as \`cairn agent destinations\` lists them), not ${JSON.stringify(v.slice(0, 100))}`,
          );
      if (o.optIn || o.optOut) {
        const { connectAuthority, syncConfig } = await import("./auth/registration.js");
        const { systemClock } = await import("@cairn/protocol");
        const client = await connectAuthority(dir, {}, proxyOf(ctx));
        try {
          await client.call("opt-in", { destinationGuid: (o.optIn ?? o.optOut) as string, optIn: o.optIn !== undefined });
          await syncConfig(dir, client, systemClock, cliLogger(ctx));
        } finally {
          client.close();
        }
      } else {
        // the offers as the authority has them now; the ones stored at the last sync when it
        // cannot be reached
        const { connectAuthority, refreshConfig } = await import("./auth/registration.js");
        try {
          const client = await connectAuthority(dir, { timeoutMs: 5000 }, proxyOf(ctx));
          try {
            await refreshConfig(dir, client, 5000);
          } finally {
            client.close();
          }
        } catch (err) {
          // not registered, deauthorized, a revoked token: said as such (exit 10 / 12), not hidden
          const code = exitCodeFor(err);
          if (code === EXIT.NOT_REGISTERED || code === EXIT.AUTH_FAILED) throw err;
          if (!ctx.json && !ctx.quiet) ctx.stderr.write(`the authority could not be reached (${(err as Error).message}): the offers as of the last sync\n`);
        }
      }
      const { agentStatus } = await import("./agent-api.js");
      const s = agentStatus({ dataDir: dir });
      ctx.print(
        s.offered,
        s.offered.map((d) => `${d.destinationGuid}  ${d.name}  ${d.autoStart ? "auto-start" : d.optedIn ? "opted in" : "offered"}`).join("\n") ||
          "none offered",
      );
    });

  return cmd;
}

/**
 * A run that printed its summary but failed (exit 1): under `--json` also the `exit_error` line on
 * stderr that every failing command prints (docs/cli.md, "Output contract"); the human output
 * has already listed the failures.
 */
function jsonFailure(ctx: CommandContext, code: string, message: string): void {
  ctx.setExitCode(EXIT.FAILURE);
  if (ctx.json) ctx.stderr.write(`${JSON.stringify({ message_type: "exit_error", code: EXIT.FAILURE, error: code, message })}\n`);
}

/** Whether this process runs from `<dir>/versions/…` (through `<dir>/current`): only then does it install upgrades. */
function runsFrom(dir: string): boolean {
  try {
    const script = realpathSync(process.argv[1] ?? "");
    return script.startsWith(`${realpathSync(dir)}${sep}versions${sep}`);
  } catch {
    return false;
  }
}

async function notifyDaemon(dir: string): Promise<void> {
  const { callDaemon } = await import("./daemon/local-api.js");
  await callDaemon(dir, "POST", "/reload").catch(() => undefined);
}
