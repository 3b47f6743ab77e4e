/**
 * Brute-force limits for sign-in (T29): failures are counted per username (known or not, so a
 * lock-out reveals nothing) and per source address in a sliding window; past the limit, further
 * attempts are refused with RATE_LIMITED until the window passes. Kept in memory, on the injected
 * clock. py42 repeats a failed request once, so each failed login counts twice, by design.
 */
import { CairnError, type Clock, MINUTE_MS } from "@cairn/protocol";

/** Limits of {@link LoginThrottle}. */
export interface LoginThrottleOptions {
  /** Failures of one username within the window before it is locked. */
  maxFailuresPerUser?: number;
  /** Failures from one address within the window before it is refused. */
  maxFailuresPerSource?: number;
  windowMs?: number;
  /** The RATE_LIMITED message (other uses of the same limiter: archive unlocks, T21). */
  refusal?: string;
}

const MAX_TRACKED = 100_000;

/** Counts failed sign-ins and refuses attempts past the limits. */
export class LoginThrottle {
  private readonly users = new Map<string, number[]>();
  private readonly sources = new Map<string, number[]>();
  private readonly maxUser: number;
  private readonly maxSource: number;
  private readonly windowMs: number;
  private readonly refusal: string;

  constructor(
    private readonly clock: Clock,
    opts: LoginThrottleOptions = {},
  ) {
    this.maxUser = opts.maxFailuresPerUser ?? 10;
    this.maxSource = opts.maxFailuresPerSource ?? 50;
    this.windowMs = opts.windowMs ?? 15 * MINUTE_MS;
    this.refusal = opts.refusal ?? "Too many failed sign-in attempts; try again later";
  }

  private recent(map: Map<string, number[]>, key: string): number[] {
    const cutoff = this.clock.now() - this.windowMs;
    const list = (map.get(key) ?? []).filter((t) => t > cutoff);
    if (list.length === 0) map.delete(key);
    else map.set(key, list);
    return list;
  }

  /** Throws RATE_LIMITED when `usernameKey` or `source` is over its limit. */
  check(usernameKey: string, source: string): void {
    const user = this.recent(this.users, usernameKey);
    const from = this.recent(this.sources, source);
    const waits: number[] = [];
    // the failure whose expiry brings the count back under the limit decides when to come back
    if (user.length >= this.maxUser) waits.push((user[user.length - this.maxUser] as number) + this.windowMs);
    if (from.length >= this.maxSource) waits.push((from[from.length - this.maxSource] as number) + this.windowMs);
    if (waits.length > 0) {
      const retryAfterSeconds = Math.max(1, Math.ceil((Math.max(...waits) - this.clock.now()) / 1000));
      const minutes = Math.ceil(retryAfterSeconds / 60);
      throw new CairnError("RATE_LIMITED", `${this.refusal} (in ${minutes} minute${minutes === 1 ? "" : "s"})`, { details: { retryAfterSeconds } });
    }
  }

  /** Records a failed attempt. */
  fail(usernameKey: string, source: string): void {
    const now = this.clock.now();
    for (const [map, key] of [
      [this.users, usernameKey],
      [this.sources, source],
    ] as const) {
      if (map.size >= MAX_TRACKED && !map.has(key)) {
        const oldest = map.keys().next().value;
        if (oldest !== undefined) map.delete(oldest);
      }
      map.set(key, [...this.recent(map, key), now]);
    }
  }

  /** A successful sign-in clears that username's failures. */
  succeed(usernameKey: string): void {
    this.users.delete(usernameKey);
  }
}
