/**
 * Whether the computer's user is present, for the General tab's two CPU shares ("CPU while the
 * user is present / away"): the daemon's scheduled backups run at `cpuPresentPercent` while
 * someone uses the machine and at `cpuAwayPercent` once nobody has for {@link AWAY_AFTER_MS}.
 *
 * - Linux: systemd-logind's sessions (`loginctl`). Present while an active session with a seat or a
 *   terminal does not report `IdleHint=yes` (desktops set it after their idle delay); no such
 *   session at all (a server, nobody logged in) is away.
 * - macOS: the HID system's idle time (`ioreg -c IOHIDSystem`, nanoseconds since the last
 *   keyboard or mouse event).
 * - Anything else, or a tool that does not answer: unknown, which counts as present (the smaller
 *   share: never take more CPU from a user than the organization allows while one is there).
 *
 * The answer is cached for {@link PRESENCE_TTL_MS} and asked again in the background (child
 * processes, never blocking the daemon): the last answer stands meanwhile, "unknown" before the
 * first. The probe is a seam (tests give their own).
 */
import { execFile } from "node:child_process";

/** What the machine says about its user. */
export type Presence = "present" | "away" | "unknown";

/** No input for this long is "away" (where the system gives an idle time). */
export const AWAY_AFTER_MS = 15 * 60_000;
/** How long an answer is reused. */
export const PRESENCE_TTL_MS = 60_000;

/** A tool's output, or null when it is missing, fails or takes more than 2 s (never throws). */
function run(cmd: string, args: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: "utf8", timeout: 2000 }, (err, stdout) => resolve(err ? null : stdout));
  });
}

/** One session of `loginctl show-session -p Active -p IdleHint -p Seat -p TTY -p Class`. */
export interface LogindSession {
  Active?: string;
  IdleHint?: string;
  Seat?: string;
  TTY?: string;
  Class?: string;
}

/** Parses the `key=value` lines of `loginctl show-session` (several sessions: blank-line separated). */
export function parseLogindSessions(out: string): LogindSession[] {
  const sessions: LogindSession[] = [];
  for (const block of out.split(/\n\s*\n/)) {
    const s: Record<string, string> = {};
    for (const line of block.split("\n")) {
      const eq = line.indexOf("=");
      if (eq > 0) s[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
    }
    if (Object.keys(s).length > 0) sessions.push(s as LogindSession);
  }
  return sessions;
}

/** Present when a user's active session with a seat or terminal is not idle; away when there is none. */
export function presenceOfSessions(sessions: readonly LogindSession[]): Presence {
  const people = sessions.filter((s) => s.Active === "yes" && (s.Class ?? "user") === "user" && (Boolean(s.Seat) || Boolean(s.TTY)));
  if (people.length === 0) return "away";
  return people.some((s) => s.IdleHint !== "yes") ? "present" : "away";
}

/** Presence from the `HIDIdleTime` (nanoseconds) in `ioreg -c IOHIDSystem` output; unknown without one. */
export function presenceOfIoreg(out: string, awayAfterMs = AWAY_AFTER_MS): Presence {
  const m = /"HIDIdleTime"\s*=\s*(\d+)/.exec(out);
  if (!m) return "unknown";
  return Number(m[1]) / 1e6 >= awayAfterMs ? "away" : "present";
}

/** Asks the operating system (uncached). */
export async function systemPresence(): Promise<Presence> {
  if (process.platform === "darwin") {
    const out = await run("ioreg", ["-c", "IOHIDSystem", "-d", "4"]);
    return out ? presenceOfIoreg(out) : "unknown";
  }
  if (process.platform === "linux") {
    const list = await run("loginctl", ["list-sessions", "--no-legend"]);
    if (list === null) return "unknown";
    const ids = list
      .split("\n")
      .map((l) => l.trim().split(/\s+/)[0])
      .filter((x): x is string => Boolean(x));
    if (ids.length === 0) return "away";
    const out = await run("loginctl", ["show-session", ...ids, "-p", "Active", "-p", "IdleHint", "-p", "Seat", "-p", "TTY", "-p", "Class"]);
    return out === null ? "unknown" : presenceOfSessions(parseLogindSessions(out));
  }
  return "unknown";
}

/** A cached presence probe over `probe` (default: the operating system's), refreshed in the background. */
export function presenceProbe(probe: () => Promise<Presence> = systemPresence, now: () => number = () => performance.now()): () => Presence {
  let value: Presence = "unknown";
  let at = Number.NEGATIVE_INFINITY;
  let asking = false;
  return () => {
    if (!asking && now() - at >= PRESENCE_TTL_MS) {
      asking = true;
      void probe()
        .catch((): Presence => "unknown")
        .then((v) => {
          value = v;
          at = now();
          asking = false;
        });
    }
    return value;
  };
}

/** The CPU share for a scheduled backup: the away share only when the user is known to be away. */
export function cpuShareFor(presence: Presence, shares: { presentPercent: number; awayPercent: number }): number {
  return presence === "away" ? shares.awayPercent : shares.presentPercent;
}
