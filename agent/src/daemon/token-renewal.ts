/**
 * Storage tokens renewed while the daemon stays connected: the control link renews every token
 * when it opens (`syncConfig`), and a daemon connected for days renews again once a seventh of
 * the tokens' lifetime has passed since the last renewal (daily for the 7-day default; at least
 * an hour apart), or when one has less than `minLeftMs` left. So when the authority goes away the
 * tokens have most of their lifetime ahead, and backups and restores go on for that long.
 */
import { type Clock, DAY_MS, HOUR_MS, MINUTE_MS } from "@cairn/protocol";
import type { Logger } from "pino";
import type { AuthorityClient } from "../auth/authority-client.js";
import { syncConfig } from "../auth/registration.js";
import { openAgentDb } from "../state/agent-db.js";
import { ArchiveStore } from "../state/archive-store.js";

/** Options of {@link TokenRenewal}. */
export interface TokenRenewalOptions {
  dataDir: string;
  clock: Clock;
  logger: Logger;
  /** Renew whenever a token has less than this left (default 1 day). */
  minLeftMs?: number;
  /** How often the tokens are looked at (default 10 minutes). */
  intervalMs?: number;
}

/** The earliest storage-token expiry of a data directory (null without archives). */
export function earliestTokenExpiry(dataDir: string): number | null {
  const db = openAgentDb(dataDir);
  try {
    const rows = new ArchiveStore(db).list();
    return rows.length === 0 ? null : Math.min(...rows.map((r) => r.tokenExpiresAt));
  } finally {
    db.close();
  }
}

/** Renews tokens over a live link when they have aged. */
export class TokenRenewal {
  private lastLook = Number.NEGATIVE_INFINITY;
  private lastRenewal: number | null = null;
  private running = false;

  constructor(private readonly o: TokenRenewalOptions) {}

  /** The link opened and `syncConfig` renewed every token just now. */
  synced(): void {
    this.lastRenewal = this.o.clock.now();
  }

  /** Looks (at most every interval) and renews when due; never throws. */
  async maybe(client: AuthorityClient | null): Promise<void> {
    const now = this.o.clock.now();
    if (client === null || this.running || now - this.lastLook < (this.o.intervalMs ?? 10 * MINUTE_MS)) return;
    this.lastLook = now;
    this.running = true;
    try {
      const exp = earliestTokenExpiry(this.o.dataDir);
      if (exp === null) return;
      const since = this.lastRenewal ?? now;
      const aged = now - since >= Math.max(HOUR_MS, (exp - since) / 7);
      if (aged || exp - now < (this.o.minLeftMs ?? DAY_MS)) {
        await syncConfig(this.o.dataDir, client, this.o.clock, this.o.logger);
        this.lastRenewal = now;
        this.o.logger.info({ earliestExpiry: earliestTokenExpiry(this.o.dataDir) }, "storage tokens renewed");
      } else if (this.lastRenewal === null) this.lastRenewal = now;
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, "token renewal failed; retrying later");
    } finally {
      this.running = false;
    }
  }
}
