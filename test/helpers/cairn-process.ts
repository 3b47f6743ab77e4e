/**
 * The real `cairn` command in child processes, for the operations tests: daemons started the way
 * a service manager starts them (their output captured line by line), and one-shot commands.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** `cli/bin/cairn.js` of this checkout. */
export const CAIRN_BIN = fileURLToPath(new URL("../../cli/bin/cairn.js", import.meta.url));

/** A running child process with its output. */
export interface CairnProcess {
  proc: ChildProcess;
  /** Every line of stdout and stderr so far. */
  lines: string[];
  /** Resolves with the first line (parsed JSON when it is JSON) that `match` accepts. */
  waitFor(match: (line: string, json: Record<string, unknown> | null) => boolean, timeoutMs?: number): Promise<Record<string, unknown> | string>;
  /** Resolves when the process exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then the exit and how long it took. */
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

function parse(line: string): Record<string, unknown> | null {
  if (!line.startsWith("{")) return null;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** Spawns `node <argv>` (argv[0] is the script) with `env` added to the environment. */
export function spawnProcess(argv: readonly string[], env: Record<string, string> = {}): CairnProcess {
  const proc = spawn(process.execPath, [...argv], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  const waiters = new Set<(line: string) => void>();
  for (const stream of [proc.stdout, proc.stderr]) {
    let rest = "";
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => {
      rest += chunk;
      const parts = rest.split("\n");
      rest = parts.pop() ?? "";
      for (const l of parts) {
        lines.push(l);
        for (const w of waiters) w(l);
      }
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on("exit", (code, signal) => resolve({ code, signal })));
  const p: CairnProcess = {
    proc,
    lines,
    exited,
    waitFor(match, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = (l: string) => {
          const j = parse(l);
          if (match(l, j)) {
            waiters.delete(check);
            clearTimeout(t);
            resolve(j ?? l);
          }
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching line within ${timeoutMs} ms; output:\n${lines.slice(-30).join("\n")}`));
        }, timeoutMs);
        for (const l of lines) {
          const j = parse(l);
          if (match(l, j)) {
            clearTimeout(t);
            resolve(j ?? l);
            return;
          }
        }
        waiters.add(check);
        void exited.then(() => {
          if (waiters.has(check)) {
            waiters.delete(check);
            clearTimeout(t);
            reject(new Error(`the process exited before a matching line; output:\n${lines.slice(-30).join("\n")}`));
          }
        });
      });
    },
    async stop(timeoutMs = 30_000) {
      const t0 = Date.now();
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      const kill = setTimeout(() => proc.kill("SIGKILL"), timeoutMs + 5000);
      const r = await exited;
      clearTimeout(kill);
      return { ...r, ms: Date.now() - t0 };
    },
  };
  return p;
}

/** Spawns `cairn <args>`. */
export function spawnCairn(args: readonly string[], env: Record<string, string> = {}): CairnProcess {
  return spawnProcess([CAIRN_BIN, ...args], env);
}

/** Runs `cairn <args>` to its end. */
export function runCairn(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CAIRN_BIN, ...args], { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code as number) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Polls `check` until it returns a value other than undefined/false. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 30_000, what = "the condition"): Promise<Exclude<T, false | undefined | null>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false && v !== null) return v as Exclude<T, false | undefined | null>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
