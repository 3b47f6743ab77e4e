/**
 * `cairn authority …`: the thin command line over this daemon's library. The only module of the
 * package that reads flags and the environment (FAULT_CRASH_AT for crash tests).
 *
 *   init   --data DIR [--admin-username U] [--admin-password P] [--org-name N] [--hostname H…]
 *   serve  --data DIR [--host H] [--port P] [--public-url U] [--restore-dir D] [--purge-schedule C]
 *          [--report-schedule C] [--alert-schedule C] [--smtp-url U] [--mail-from A] [--templates D]
 *   enroll-key --data DIR [--destination NAME]   (a one-time key for `cairn storenode init`)
 */
import { CairnError, type CommandContext } from "@cairn/protocol";
import { Command, Option } from "commander";
import { type Logger, pino } from "pino";
import { createEnrollKey, DEFAULT_PORT, initAuthority, startAuthority } from "./index.js";
import { LOG_REDACT_PATHS } from "./log.js";
import { type OperationsFlags, operationsOptionsOf } from "./operations-plugins.js";

const collect = (v: string, prev: string[]) => [...prev, v];

function parsePort(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CairnError("USAGE", `not a port: ${text}`);
  return n;
}

/** The process's root logger: pino JSON, secrets redacted. */
function makeLogger(ctx: CommandContext, fd: 1 | 2 = 1): Logger {
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
    .requiredOption("--data <dir>", "data directory")
    .option("--admin-username <name>", "the primary administrator's username", "admin")
    .option("--admin-password <password>", "the primary administrator's password (generated and printed once when absent)")
    .option("--org-name <name>", "the top-level organization's name", "Cairn")
    .option("--hostname <name>", "a host name the certificate is valid for (repeatable)", collect, [])
    .action(async (o: { data: string; adminUsername: string; adminPassword?: string; orgName: string; hostname: string[] }) => {
      const r = await initAuthority({
        dataDir: o.data,
        adminUsername: o.adminUsername,
        orgName: o.orgName,
        hostnames: o.hostname,
        ...(o.adminPassword !== undefined ? { adminPassword: o.adminPassword } : {}),
        logger: makeLogger(ctx, 2),
      });
      const human = [
        `authority initialized in ${o.data}`,
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
    .requiredOption("--data <dir>", "data directory")
    .option("--host <host>", "address to listen on", "0.0.0.0")
    .addOption(new Option("--port <port>", "port to listen on (0 picks a free one)").argParser(parsePort))
    .option("--public-url <url>", "the origin clients reach this authority at (the restore storage URL; default: the request's Host)")
    .option("--restore-dir <dir>", "folder for server file-system restores (not offered when absent)")
    .option("--purge-schedule <cron>", "cron expression of the cold-storage purge (default 0 3 * * *)")
    .option("--report-schedule <cron>", "cron expression of the scheduled backup reports (default 0 7 * * *)")
    .option("--alert-schedule <cron>", "cron expression of the alert-email check (default */30 * * * *)")
    .option("--smtp-url <url>", "SMTP server of reports and alerts, smtp://host:port or smtps://… (or CAIRN_SMTP_URL)")
    .option("--mail-from <address>", "From address of reports and alerts")
    .option("--templates <dir>", "folder whose files replace the shipped email templates")
    .action(async (o: { data: string; host: string; port?: number } & OperationsFlags) => {
      const logger = makeLogger(ctx);
      const smtpUrl = o.smtpUrl ?? ctx.env.CAIRN_SMTP_URL;
      const authority = await startAuthority({
        dataDir: o.data,
        host: o.host,
        port: o.port ?? DEFAULT_PORT,
        logger,
        operations: operationsOptionsOf({ ...o, ...(smtpUrl ? { smtpUrl } : {}) }),
        ...(ctx.env.FAULT_CRASH_AT ? { faults: { crashAt: ctx.env.FAULT_CRASH_AT } } : {}),
      });
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
    });

  cmd
    .command("enroll-key")
    .description("a one-time key (valid 24 h) with which a storage node enrolls into a destination (works while serve runs)")
    .requiredOption("--data <dir>", "data directory")
    .option("--destination <name>", "the destination (created when it does not exist; default: the first of own servers, or a new one)")
    .action(async (o: { data: string; destination?: string }) => {
      const r = await createEnrollKey({ dataDir: o.data, ...(o.destination !== undefined ? { destination: o.destination } : {}) });
      ctx.print(r, [`enroll key ${r.enrollKey}`, `destination ${r.destinationName} (${r.destinationGuid})`, `expires ${r.expiresAt}`].join("\n"));
    });

  return cmd;
}
