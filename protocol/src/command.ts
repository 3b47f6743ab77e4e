/**
 * The contract between the `cairn` dispatcher (cli/) and each daemon's command line: the
 * dispatcher parses the global flags once and hands every daemon this context. Types only; the
 * daemons build their commander subcommands themselves.
 */

/** Global flags and I/O of one `cairn` invocation. */
export interface CommandContext {
  /** `--json`: machine-readable output (one document, or JSON Lines for long runs). */
  readonly json: boolean;
  /** `-q/--quiet`: no progress, no human chatter. */
  readonly quiet: boolean;
  /** `-v/--verbose`. */
  readonly verbose: boolean;
  /** Log level for daemon logs (`--log-level`, `CAIRN_LOG_LEVEL`, default `info`). */
  readonly logLevel: string;
  /** `--config FILE`, when given. */
  readonly configFile: string | undefined;
  /** The process environment (only command lines read it). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Aborted on SIGINT / SIGTERM. */
  readonly signal: AbortSignal;
  /** Prints a command's result: `value` as one JSON line under --json, else `human` (or `value` pretty). */
  print(value: unknown, human?: string): void;
  /** Prints a JSON Lines status record under --json (restic-style `message_type`). */
  printJsonLine(value: Record<string, unknown>): void;
  /** Whether progress bars may be drawn (stderr is a TTY, not --json, not --quiet). */
  readonly progressAllowed: boolean;
  /** Sets the exit code for a command that succeeded with a caveat (3: some files unreadable). */
  setExitCode(code: number): void;
  /**
   * Takes a pid lock file (O_EXCL; a dead holder's is taken over, a live one's is LOCKED, exit
   * 11) and resolves with its release; the command line provides it (a daemon's `serve` locks its
   * data folder). Absent in contexts built by tests.
   */
  lockFile?(path: string, message: string): Promise<() => void>;
}
