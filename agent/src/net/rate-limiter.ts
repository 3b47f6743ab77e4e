/**
 * Bandwidth limiter (token bucket, one second of burst) and send gate. The gate closes outside
 * the run window: then nothing is sent at all, whatever the bucket holds. The rate and the gate
 * change at run time when settings change. (Excluded networks are the data session's check:
 * network-policy.ts.)
 */

/** Paces sent bytes. */
export class RateLimiter {
  private tokens: number;
  private last: number;

  /** `bytesPerSec` 0 means unlimited; `gate` returns false while nothing may be sent. */
  constructor(
    private bytesPerSec: number,
    private gate: () => boolean = () => true,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = bytesPerSec;
    this.last = now();
  }

  /** Changes the rate (0 = unlimited). */
  setRate(bytesPerSec: number): void {
    this.refill();
    this.bytesPerSec = bytesPerSec;
    this.tokens = Math.min(this.tokens, bytesPerSec);
  }

  /** Replaces the gate. */
  setGate(gate: () => boolean): void {
    this.gate = gate;
  }

  /** The current rate (0 = unlimited). */
  get rate(): number {
    return this.bytesPerSec;
  }

  private refill(): void {
    const t = this.now();
    if (this.bytesPerSec > 0) this.tokens = Math.min(this.bytesPerSec, this.tokens + ((t - this.last) / 1000) * this.bytesPerSec);
    this.last = t;
  }

  /** Milliseconds to wait before `bytes` may be sent (0: send now). */
  reserve(bytes: number): number {
    if (!this.gate()) return 1000;
    if (this.bytesPerSec <= 0) return 0;
    this.refill();
    if (this.tokens > 0) return 0;
    return Math.max(1, Math.ceil((-this.tokens / this.bytesPerSec) * 1000 + (Math.min(bytes, this.bytesPerSec) / this.bytesPerSec) * 0));
  }

  /** Records `bytes` sent (the bucket may go negative by one frame; the next reserve waits it out). */
  consume(bytes: number): void {
    if (this.bytesPerSec <= 0) return;
    this.refill();
    this.tokens -= bytes;
  }
}
