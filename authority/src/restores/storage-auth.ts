/**
 * The storage-server hop of API.md §9, served by the authority itself ("one URL for both
 * roles"): `POST /api/LoginToken` gives a single-use login token (5 minutes) for the caller;
 * `POST /api/AuthToken` with `Authorization: login_token <t>` turns it into the pair `[t1, t2]`
 * that py42 sends back as `Authorization: token t1-t2`. A storage token authenticates the *user*
 * (py42 reuses the first pair for later devices), lasts an hour sliding with use, and dies with
 * the user's credentials (`authVersion`: password change, block, deactivation). Only SHA-256 of
 * the secrets is kept, in memory.
 */
import { createHash, randomBytes } from "node:crypto";
import { CairnError, type Clock, safeEqual } from "@cairn/protocol";

/** A login token lives this long. */
export const LOGIN_TOKEN_TTL_MS = 5 * 60_000;
/** A storage token lives this long after its last use. */
export const STORAGE_TOKEN_IDLE_MS = 60 * 60_000;

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
/** Hex: no `-` inside, as py42 joins the pair with one. */
const secret = () => randomBytes(24).toString("hex");

interface LoginTicket {
  userId: number;
  authVersion: number;
  expiresAt: number;
}

interface StorageTicket {
  userId: number;
  authVersion: number;
  t2: string;
  expiresAt: number;
}

/** Who a storage credential belongs to. */
export interface StorageHolder {
  userId: number;
  authVersion: number;
}

/** Login and storage tokens of one authority. */
export class StorageTokens {
  private readonly logins = new Map<string, LoginTicket>();
  private readonly tokens = new Map<string, StorageTicket>();

  constructor(private readonly clock: Clock) {}

  private sweep(): void {
    const now = this.clock.now();
    for (const [k, v] of this.logins) if (v.expiresAt <= now) this.logins.delete(k);
    for (const [k, v] of this.tokens) if (v.expiresAt <= now) this.tokens.delete(k);
  }

  /** A fresh single-use login token for a user. */
  issueLogin(h: StorageHolder): string {
    this.sweep();
    const t = secret();
    this.logins.set(sha(t), { ...h, expiresAt: this.clock.now() + LOGIN_TOKEN_TTL_MS });
    return t;
  }

  /** Spends a login token for the pair `[t1, t2]`; UNAUTHORIZED when unknown, used or expired. */
  redeemLogin(loginToken: string): [string, string] {
    const key = sha(loginToken);
    const ticket = this.logins.get(key);
    this.logins.delete(key);
    if (ticket === undefined || ticket.expiresAt <= this.clock.now()) throw new CairnError("UNAUTHORIZED", "The login token is unknown, used or expired");
    const t1 = secret();
    const t2 = secret();
    this.tokens.set(sha(t1), { userId: ticket.userId, authVersion: ticket.authVersion, t2: sha(t2), expiresAt: this.clock.now() + STORAGE_TOKEN_IDLE_MS });
    return [t1, t2];
  }

  /** Checks `t1-t2` and slides its expiry; UNAUTHORIZED otherwise (py42 then fetches new ones). */
  verify(pair: string): StorageHolder {
    const i = pair.indexOf("-");
    const t1 = i < 0 ? "" : pair.slice(0, i);
    const t2 = i < 0 ? "" : pair.slice(i + 1);
    const ticket = this.tokens.get(sha(t1));
    const now = this.clock.now();
    if (ticket === undefined || ticket.expiresAt <= now || !safeEqual(sha(t2), ticket.t2))
      throw new CairnError("UNAUTHORIZED", "The storage token is unknown or expired");
    ticket.expiresAt = now + STORAGE_TOKEN_IDLE_MS;
    return { userId: ticket.userId, authVersion: ticket.authVersion };
  }
}
