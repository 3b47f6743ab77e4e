/**
 * `cairn authority …`: the thin command line over this daemon's library. The only module of the
 * package that reads flags and the environment (FAULT_CRASH_AT for crash tests).
 *
 *   init   --data DIR [--admin-username U] [--admin-password P] [--admin-email E] [--org-name N] [--hostname H…]
 *   serve  [--data DIR] [--host H] [--port P] [--public-url U] [--metrics-address H:P] [--restore-dir D]
 *          [--purge-schedule C] [--report-schedule C] [--alert-schedule C] [--smtp-url U] [--mail-from A]
 *          [--templates D] [--reserve-bytes N] [--check-config] [--print-default-config]
 *          (and the global --config FILE: /etc/cairn/authority.toml; serve-config.ts lists every key)
 *   enroll-key [--data DIR] [--destination NAME]   (a one-time key for `cairn storenode init`)
 *   backup  [--data DIR] --to FILE [--passphrase-file F]   (online: works while serve runs)
 *   restore --from FILE [--data DIR] [--passphrase-file F] [--force]
 *   agent-package add FILE --version V | list | remove V   (works while serve runs)
 *
 * Every command takes its data directory from `--data`, `CAIRN_DATA` or `data` in the file.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { CairnError, type CommandContext, renderDefaultConfig, type ResolvedConfig } from "@cairn/protocol";
import { Command } from "commander";
import { validate as validCron } from "node-cron";
import { type Logger, pino } from "pino";
import { dataDirOf, hostPort, serveConfig } from "./cli-config.js";
import { registerOpsCommands } from "./cli-ops.js";
import { createEnrollKey, DEFAULT_PORT, initAuthority, startAuthority } from "./index.js";
import { LOG_REDACT_PATHS } from "./log.js";
import { type OperationsFlags, operationsOptionsOf } from "./operations-plugins.js";
import { AUTHORITY_SERVE_CONFIG } from "./serve-config.js";

const collect = (v: string, prev: string[]) => [...prev, v];

/** The process's root logger: pino JSON, secrets redacted. */
export function makeLogger(ctx: CommandContext, fd: 1 | 2 = 1): Logger {
  return pino(
    {
      level: ctx.logLevel,
      redact: {
        paths: [...LOG_REDACT_PATHS],
        censor: "[redacted]",
      },
    },
    pino.destination({ dest: fd, sync: true }),
  );
}

/** Builds the `authority` subcommand tree. */
export function createCommand(ctx: CommandContext): Command {
  const cmd = new Command("authority").description("the authority server: organizations, users, devices, settings, REST API and console");

  cmd
    .command("init")
    .description("create a new authority: database, top-level organization, primary administrator, TLS certificate, keys")
    .option("--data <dir>", "data directory (or CAIRN_DATA, or data in --config)")
    .option("--admin-username <name>", "the primary administrator's username", "admin")
    .option("--admin-password <password>", "the primary administrator's password (generated and printed once when absent)")
    .option("--admin-email <address>", "the primary administrator's email address, the default report recipient (default: the username when it is one)")
    .option("--org-name <name>", "the top-level organization's name", "Cairn")
    .option("--hostname <name>", "a host name the certificate is valid for (repeatable)", collect, [])
    .action(async (o: { data?: string; adminUsername: string; adminPassword?: string; adminEmail?: string; orgName: string; hostname: string[] }) => {
      const dataDir = dataDirOf(ctx, o.data);
      const r = await initAuthority({
        dataDir,
        adminUsername: o.adminUsername,
        orgName: o.orgName,
        hostnames: o.hostname,
        ...(o.adminPassword !== undefined ? { adminPassword: o.adminPassword } : {}),
        ...(o.adminEmail !== undefined ? { adminEmail: o.adminEmail } : {}),
        logger: makeLogger(ctx, 2),
      });
      const human = [
        `authority initialized in ${dataDir}`,
        `top-level organization ${r.orgUid}, registration key ${r.registrationKey}`,
        `primary administrator ${r.adminUsername}${r.adminPassword !== undefined ? ` with password ${r.adminPassword} (shown once)` : ""}`,
        `certificate fingerprint ${r.certFingerprint}`,
      ].join("\n");
      ctx.print(
        {
          orgUid: r.orgUid,
          registrationKey: r.registrationKey,
          adminUsername: r.adminUsername,
          ...(r.adminPassword !== undefined ? { adminPassword: r.adminPassword } : {}),
          certFingerprint: r.certFingerprint,
        },
        human,
      );
    });

  cmd
    .command("serve")
    .description(`serve the REST API, the console and the control channels over HTTPS (port ${DEFAULT_PORT} by default)`)
    .option("--data <dir>", "data directory (or CAIRN_DATA, or data in --config)")
    .option("--host <host>", "address to listen on (default 0.0.0.0)")
    .option("--port <port>", "port to listen on (0 picks a free one)")
    .option("--public-url <url>", "the origin clients reach this authority at (the restore storage URL; default: the request's Host)")
    .option("--metrics-address <host:port>", "serve /metrics, /healthz and /readyz on a separate plain-HTTP address")
    .option("--reserve-bytes <bytes>", "/readyz fails below this much free space on the data directory (default 64MiB)")
    .option("--restore-dir <dir>", "folder for server file-system restores (not offered when absent)")
    .option("--purge-schedule <cron>", "cron expression of the cold-storage purge (default 0 3 * * *)")
    .option("--report-schedule <cron>", "cron expression of the scheduled backup reports (default 0 7 * * *)")
    .option("--alert-schedule <cron>", "cron expression of the alert-email check (default */30 * * * *)")
    .option("--status-email-schedule <cron>", "cron expression of the users' backup-status-email check (default */30 * * * *)")
    .option("--smtp-url <url>", "SMTP server of reports and alerts, smtp://host:port or smtps://… (or CAIRN_SMTP_URL)")
    .option("--mail-from <address>", "From address of reports and alerts")
    .option("--templates <dir>", "folder whose files replace the shipped email templates")
    .option("--check-config", "validate the configuration, show where each value comes from, and exit")
    .option("--print-default-config", "print a commented default configuration file and exit")
    .action(async (o: { checkConfig?: boolean; printDefaultConfig?: boolean }, command: Command) => {
      if (o.printDefaultConfig) {
        ctx.stdout.write(renderDefaultConfig(AUTHORITY_SERVE_CONFIG, "cairn authority serve (/etc/cairn/authority.toml)"));
        return;
      }
      const c = serveConfig(ctx, command);
      // a bad value given as a flag is bad usage (exit 2: the dispatcher tells by "flag for");
      // from CAIRN_* or the config file it is a configuration error (78)
      const problems: string[] = [];
      const from = (k: string) => (c.sources[k] === "flag" ? "flag for " : "");
      for (const k of ["schedules.purge", "schedules.reports", "schedules.alerts", "schedules.status_emails"])
        if (!validCron(c.values[k] as string)) problems.push(`${from(k)}${k}: not a cron expression: ${JSON.stringify(c.values[k])}`);
      if (c.values["server.metrics_address"] !== undefined) {
        try {
          hostPort("server.metrics_address", c.values["server.metrics_address"] as string);
        } catch (err) {
          problems.push(`${from("server.metrics_address")}${(err as Error).message}`);
        }
      }
      if (problems.length > 0) throw new CairnError("CONFIG_INVALID", `invalid configuration:\n  ${problems.join("\n  ")}`, { details: { problems } });
      if (o.checkConfig) {
        void ctx.logLevel; // CAIRN_LOG_LEVEL is configuration too: a bad one exits 78 here as at serve
        const shown = (k: string, v: unknown) => (AUTHORITY_SERVE_CONFIG.find((x) => x.key === k)?.secret ? "[set]" : v);
        const values = Object.fromEntries(Object.entries(c.values).map(([k, v]) => [k, shown(k, v)]));
        ctx.print(
          { ok: true, values, sources: c.sources },
          Object.entries(values)
            .map(([k, v]) => `${k} = ${JSON.stringify(v)}  (${c.sources[k]})`)
            .join("\n"),
        );
        return;
      }
      await serve(ctx, c);
    });

  cmd
    .command("enroll-key")
    .description("a one-time key (valid 24 h) with which a storage node enrolls into a destination (works while serve runs)")
    .option("--data <dir>", "data directory (or CAIRN_DATA, or data in --config)")
    .option("--destination <name>", "the destination (created when it does not exist; default: the first of own servers, or a new one)")
    .action(async (o: { data?: string; destination?: string }) => {
      const r = await createEnrollKey({ dataDir: dataDirOf(ctx, o.data), ...(o.destination !== undefined ? { destination: o.destination } : {}) });
      ctx.print(r, [`enroll key ${r.enrollKey}`, `destination ${r.destinationName} (${r.destinationGuid})`, `expires ${r.expiresAt}`].join("\n"));
    });

  registerOpsCommands(cmd, ctx);
  return cmd;
}

/** `serve`: starts the authority and runs until the dispatcher's signal aborts (SIGTERM, SIGINT). */
async function serve(ctx: CommandContext, c: ResolvedConfig): Promise<void> {
  const v = c.values as Record<string, string | number | undefined>;
  const str = (k: string) => v[k] as string | undefined;
  const logger = makeLogger(ctx);
  const metricsAddress = str("server.metrics_address");
  const flags: OperationsFlags = {
    purgeSchedule: str("schedules.purge") as string,
    reportSchedule: str("schedules.reports") as string,
    alertSchedule: str("schedules.alerts") as string,
    statusEmailSchedule: str("schedules.status_emails") as string,
  };
  const optional: [keyof OperationsFlags, string][] = [
    ["publicUrl", "server.public_url"],
    ["restoreDir", "restores.server_dir"],
    ["smtpUrl", "mail.smtp_url"],
    ["mailFrom", "mail.from"],
    ["templates", "mail.templates"],
  ];
  for (const [f, k] of optional) {
    const value = str(k);
    if (value !== undefined) flags[f] = value;
  }
  // one authority per data folder: a second would run the same schedules (purges, reports) on the same database
  const data = v.data as string;
  const release =
    existsSync(data) && ctx.lockFile ? await ctx.lockFile(join(data, "serve.lock"), "another authority is serving this data folder") : () => undefined;
  let authority: Awaited<ReturnType<typeof startAuthority>>;
  try {
    authority = await startAuthority({
      dataDir: v.data as string,
      host: v["server.host"] as string,
      port: v["server.port"] as number,
      logger,
      reserveBytes: v["storage.reserve"] as number,
      ...(metricsAddress !== undefined ? { metrics: hostPort("server.metrics_address", metricsAddress) } : {}),
      operations: operationsOptionsOf(flags),
      ...(ctx.env.FAULT_CRASH_AT ? { faults: { crashAt: ctx.env.FAULT_CRASH_AT } } : {}),
    });
  } catch (err) {
    release();
    throw err;
  }
  if (!ctx.json && !ctx.quiet) ctx.stderr.write(`authority serving ${authority.url} (fingerprint ${authority.fingerprint})\n`);
  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve();
    else ctx.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  // Watchdog: a shutdown that hangs must not keep the service from stopping.
  const watchdog = setTimeout(() => process.exit(1), 30_000);
  watchdog.unref();
  await authority.close();
  clearTimeout(watchdog);
  release();
}
