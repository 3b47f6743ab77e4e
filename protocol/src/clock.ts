/**
 * The only place that reads the wall clock. Everything that needs time takes a {@link Clock}
 * (GC, leases, tokens, TOTP, cold-storage expiry, schedules), so tests drive it with a
 * {@link ManualClock} instead of sleeping.
 */

/** A source of time in epoch milliseconds. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
};

/** A clock that moves only when told to: for tests and simulations. */
export class ManualClock implements Clock {
  private t: number;
  constructor(start: number | Date = Date.UTC(2026, 0, 1)) {
    this.t = typeof start === "number" ? start : start.getTime();
  }
  now(): number {
    return this.t;
  }
  /** Moves the clock forward (or back, with a negative value) by `ms`. */
  advance(ms: number): void {
    this.t += ms;
  }
  /** Sets the clock to an absolute time. */
  set(t: number | Date): void {
    this.t = typeof t === "number" ? t : t.getTime();
  }
}

/** A clock offset from another one: models a skewed device clock. */
export function offsetClock(base: Clock, offsetMs: number): Clock {
  return { now: () => base.now() + offsetMs };
}

/** ISO-8601 UTC with milliseconds, the platform API's time format. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** `YYYY-MM-DD` (UTC) for purge dates. */
export function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export const SECOND_MS = 1000;
export const MINUTE_MS = 60 * SECOND_MS;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;
