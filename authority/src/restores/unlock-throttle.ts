/**
 * Limits on wrong archive passwords and custom keys sent to a server-side restore session (T21):
 * every wrong archive password costs a scrypt run, so unlimited attempts would be unlimited
 * online guessing and a way to burn the authority's CPU. Failures are counted per archive owner
 * (whose key the secret must open: one owner's key protects all their archives) and per caller
 * source address in a sliding window, with the sign-in throttle's design and code
 * (auth/login-throttle.ts). Past a limit the session is refused with RATE_LIMITED (429) before
 * any key derivation runs, whatever the secret; the answer says "too many attempts" and nothing
 * else. py42 repeats a failed request once, so each failed attempt counts twice, by design.
 */
import { type Clock, MINUTE_MS } from "@cairn/protocol";
import { LoginThrottle } from "../auth/login-throttle.js";

/** Limits of {@link UnlockThrottle}. */
export interface UnlockThrottleOptions {
  /** Failures against one archive owner's key within the window before it is locked. */
  maxFailuresPerOwner?: number;
  /** Failures from one source address within the window before it is refused. */
  maxFailuresPerSource?: number;
  windowMs?: number;
}

/** The refusal's text: nothing about the archive, the key or the secret. */
export const UNLOCK_REFUSAL = "Too many wrong archive passwords or encryption keys; try again later";

/** Counts wrong archive secrets and refuses attempts past the limits. */
export class UnlockThrottle {
  private readonly t: LoginThrottle;

  constructor(clock: Clock, o: UnlockThrottleOptions = {}) {
    this.t = new LoginThrottle(clock, {
      maxFailuresPerUser: o.maxFailuresPerOwner ?? 10,
      maxFailuresPerSource: o.maxFailuresPerSource ?? 30,
      windowMs: o.windowMs ?? 15 * MINUTE_MS,
      refusal: UNLOCK_REFUSAL,
    });
  }

  private static key(ownerUserId: number): string {
    return `archive-owner:${ownerUserId}`;
  }

  /** Throws RATE_LIMITED when the owner's key or the source is over its limit. */
  check(ownerUserId: number, source: string | null): void {
    this.t.check(UnlockThrottle.key(ownerUserId), source ?? "unknown");
  }

  /** Records a wrong secret. */
  fail(ownerUserId: number, source: string | null): void {
    this.t.fail(UnlockThrottle.key(ownerUserId), source ?? "unknown");
  }

  /** The right secret clears the owner's failures (the source's stay, as for sign-in). */
  succeed(ownerUserId: number): void {
    this.t.succeed(UnlockThrottle.key(ownerUserId));
  }
}
