/**
 * `cairn`: one command line for the three daemons. Global flags are declared once here; each
 * daemon contributes its subcommand tree from its own `cli` module, loaded on demand so that
 * `cairn agent status` does not load the authority. Errors map to exit codes in one place
 * ({@link exitCodeFor}, DECISIONS.md: 0, 1, 2, 3, 10, 11, 12, 78, 130).
 */
import { Command, CommanderError, Option } from "commander";
import { type CommandContext, CairnError, EXIT, exitCodeFor, isCairnError } from "@cairn/protocol";

type Factory = (ctx: CommandContext) => Command | Promise<Command>;

interface Entry {
  description: string;
  load(): Promise<Factory>;
}

const ENTRIES: Record<string, Entry> = {
  authority: {
    description: "the authority server: organizations, users, devices, settings, REST API and console",
    load: async () => (await import("@cairn/authority/cli")).createCommand,
  },
  storenode: {
    description: "a storage node: store points, archives, versions, retention and verification",
    load: async () => (await import("@cairn/storenode/cli")).createCommand,
  },
  agent: {
    description: "the device agent: selection, real-time backup and restore",
    load: async () => (await import("@cairn/agent/cli")).createCommand,
  },
  demo: {
    description: "start all three daemons on 127.0.0.1, back up, restore and check",
    load: async () => (await import("./demo.js")).createCommand,
  },
};

/** Finds the first non-option argument: the daemon to load. */
function firstCommand(argv: readonly string[]): string | undefined {
  const withValue = new Set(["--log-level", "--config"]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (withValue.has(a)) {
      i++;
      continue;
    }
    if (!a.startsWith("-")) return a;
  }
  return undefined;
}

/** Whether `--version VALUE` after the command is a subcommand's option (`agent-package add F --version V`). */
function versionIsSubcommandOption(argv: readonly string[], command: string | undefined): boolean {
  const at = argv.indexOf("--version");
  const next = argv[at + 1];
  return command !== undefined && at > argv.indexOf(command) && next !== undefined && !next.startsWith("-");
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

function buildRoot(rootVersionFlags = "-V, --version", json = false): Command {
  const program = new Command("cairn")
    .description("Cairn: encrypted, deduplicated endpoint backup (agent, storage node, authority)")
    .version(VERSION, rootVersionFlags)
    .option("--json", "machine-readable output (JSON, or JSON Lines for long runs)", false)
    .option("-q, --quiet", "no progress and no informational messages", false)
    .option("-v, --verbose", "more detail", false)
    .addOption(new Option("--log-level <level>", "daemon log level").choices(LOG_LEVELS))
    .option("--config <file>", "configuration file (TOML)")
    .option("--no-color", "no colours in human output")
    .showHelpAfterError("(add --help for usage)")
    .enablePositionalOptions(false)
    .exitOverride();
  // Under --json a usage error of the root's own options (an unknown global flag, a bad
  // --log-level) prints only the exit_error line ({@link reportError}), as below a daemon.
  program.configureOutput({
    writeOut: (s) => process.stdout.write(s),
    writeErr: (s) => {
      if (!json) process.stderr.write(s);
    },
  });
  return program;
}

/** The package version. */
export const VERSION = "0.1.0";

function makeContext(program: Command, signal: AbortSignal, exit: { code: number }): CommandContext {
  const g = () => program.opts<{ json?: boolean; quiet?: boolean; verbose?: boolean; logLevel?: string; config?: string }>();
  const env = process.env;
  return {
    get json() {
      return g().json === true;
    },
    get quiet() {
      return g().quiet === true;
    },
    get verbose() {
      return g().verbose === true;
    },
    get logLevel() {
      const fromEnv = env.CAIRN_LOG_LEVEL;
      // the flag's values are checked by commander; the environment's here (exit 78)
      if (g().logLevel === undefined && fromEnv !== undefined && !LOG_LEVELS.includes(fromEnv))
        throw new CairnError("CONFIG_INVALID", `CAIRN_LOG_LEVEL=${JSON.stringify(fromEnv)} is not a log level (${LOG_LEVELS.join(", ")})`);
      return g().logLevel ?? fromEnv ?? "info";
    },
    get configFile() {
      return g().config ?? env.CAIRN_CONFIG;
    },
    env,
    stdout: process.stdout,
    stderr: process.stderr,
    signal,
    // a command's result is printed under --quiet too (an init's one-time password, a key, a
    // list asked for): --quiet silences progress and informational messages only
    print(value: unknown, human?: string) {
      if (g().json) process.stdout.write(`${JSON.stringify(value)}\n`);
      else process.stdout.write(`${human ?? JSON.stringify(value, null, 2)}\n`);
    },
    printJsonLine(value: Record<string, unknown>) {
      if (g().json) process.stdout.write(`${JSON.stringify(value)}\n`);
    },
    get progressAllowed() {
      return !g().json && !g().quiet && process.stderr.isTTY === true;
    },
    setExitCode(code: number) {
      exit.code = code;
    },
    async lockFile(path: string, message: string) {
      const { acquirePidLock } = await import("@cairn/agent/lock");
      return acquirePidLock(path, message);
    },
  };
}

/**
 * Makes every command of a daemon's tree throw instead of exiting, so that usage errors at any
 * depth exit 2 (commander exits 1 itself where a command has no override, and the daemons'
 * subcommands are built with `new Command`, which inherits nothing). Under `--json` commander's
 * plain-text message is held back: {@link reportError} prints the `exit_error` line instead.
 */
function overrideExits(cmd: Command, ctx: CommandContext, jsonWanted: boolean): void {
  cmd.exitOverride();
  cmd.configureOutput({
    writeOut: (s) => process.stdout.write(s),
    writeErr: (s) => {
      if (!ctx.json && !jsonWanted) process.stderr.write(s);
    },
  });
  for (const sub of cmd.commands) overrideExits(sub, ctx, jsonWanted);
}

/** Runs the command line; resolves to the exit code (only `bin/cairn.js` calls process.exit). */
export async function run(argv: readonly string[]): Promise<number> {
  const controller = new AbortController();
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (sig === "SIGINT") interrupted = true;
    controller.abort(new CairnError("CANCELLED", `interrupted by ${sig}`));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const wanted = firstCommand(argv);
  // asked for before commander has parsed it (a usage error may come first: `--log-level loud --json`)
  const end = argv.indexOf("--");
  const jsonWanted = (end >= 0 ? argv.slice(0, end) : argv).includes("--json");
  const program = buildRoot(versionIsSubcommandOption(argv, wanted) ? "-V" : undefined, jsonWanted);
  const exit = { code: EXIT.OK as number };
  const ctx = makeContext(program, controller.signal, exit);
  // CAIRN_LOG_LEVEL is configuration of every command: a bad value exits 78 before any action runs
  program.hook("preAction", () => {
    void ctx.logLevel;
  });
  try {
    for (const [name, entry] of Object.entries(ENTRIES)) {
      if (name === wanted) {
        const factory = await entry.load();
        const cmd = await factory(ctx);
        overrideExits(cmd, ctx, jsonWanted);
        program.addCommand(cmd);
      } else {
        program.command(name).description(entry.description).allowUnknownOption().helpOption(false);
      }
    }
    await program.parseAsync(argv as string[], { from: "user" });
    if (wanted === undefined) {
      program.outputHelp();
      return EXIT.USAGE;
    }
    return interrupted ? EXIT.INTERRUPTED : exit.code;
  } catch (err) {
    return reportError(err, ctx, interrupted, jsonWanted);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

function reportError(thrown: unknown, ctx: CommandContext, interrupted: boolean, jsonWanted: boolean): number {
  let err = thrown;
  if (err instanceof CommanderError) {
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version") return EXIT.OK;
    // `cairn agent select` (a group without its subcommand) shows its help and counts as bad usage
    if (ctx.json || jsonWanted) {
      const message = err.message.replace(/^error: /, "");
      process.stderr.write(`${JSON.stringify({ message_type: "exit_error", code: EXIT.USAGE, error: "USAGE", message })}\n`);
    }
    return EXIT.USAGE;
  }
  err = fileSystemError(err);
  const badFlags = flagValueProblems(err);
  const code = interrupted ? EXIT.INTERRUPTED : badFlags ? EXIT.USAGE : exitCodeFor(err);
  const message = isCairnError(err) ? err.message : err instanceof Error ? err.message : String(err);
  if (ctx.json) {
    const errCode = badFlags ? "USAGE" : isCairnError(err) ? err.code : "INTERNAL";
    process.stderr.write(`${JSON.stringify({ message_type: "exit_error", code, error: errCode, message })}\n`);
  } else {
    process.stderr.write(`cairn: ${message}\n`);
    if (ctx.verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  }
  return code;
}

const FS_REASONS: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "the file system is read-only",
  ENOSPC: "no space left on the device",
  EDQUOT: "the disk quota is exceeded",
  ENOTDIR: "a part of the path is not a folder",
  EISDIR: "it is a folder",
};

/**
 * A file-system error that reached the top (a data folder that cannot be created or written) as
 * FILE_SYSTEM with the path and the reason in words, instead of INTERNAL with a raw errno message.
 * Node's recursive mkdir reports a read-only file system as ENOENT: said as such.
 */
function fileSystemError(err: unknown): unknown {
  const e = err as NodeJS.ErrnoException;
  if (isCairnError(err) || !(err instanceof Error) || typeof e.syscall !== "string" || typeof e.path !== "string" || typeof e.code !== "string") return err;
  const reason =
    FS_REASONS[e.code] ??
    (e.code === "ENOENT" && e.syscall === "mkdir"
      ? "the file system is read-only, permission is denied, or a parent is missing"
      : e.code === "ENOENT"
        ? "no such file or folder"
        : null);
  if (reason === null) return err;
  return new CairnError("FILE_SYSTEM", `cannot ${e.syscall === "mkdir" ? "create" : "use"} ${e.path}: ${reason}`, { cause: err, details: { errno: e.code } });
}

/**
 * Whether `err` is a configuration error raised only by values given on the command line
 * (`serve --port abc`): that is bad usage (exit 2) like an unknown flag, while a bad value in the
 * environment or the configuration file stays a configuration error (78).
 */
function flagValueProblems(err: unknown): boolean {
  if (!isCairnError(err) || err.code !== "CONFIG_INVALID") return false;
  const problems = err.details?.problems;
  return Array.isArray(problems) && problems.length > 0 && problems.every((p) => typeof p === "string" && p.startsWith("flag for "));
}
