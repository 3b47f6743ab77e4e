/**
 * Authentication: signing in (password, then TOTP where required), user JWTs for scripts
 * (`/c42api/v3/auth/jwt`, about an hour), console sessions (opaque cookie, CSRF token derived
 * from it), long-lived API tokens, and turning any of them into a {@link Principal} with the
 * user's current roles and org. Every credential dies with the user's `authVersion` (password
 * change, block, deactivation), and a blocked or deactivated user or org gets no principal.
 */
import { CairnError, type Clock, HOUR_MS, hashSecret, MINUTE_MS, newOpaqueId, newSecret, safeEqual, signToken, verifyToken } from "@cairn/protocol";
import type { User } from "../db/records.js";
import type { AuthorityStore } from "../db/store.js";
import type { KeysLike } from "../keys/keys-like.js";
import type { SettingsService } from "../settings/settings-service.js";
import { usernameKey } from "../users/usernames.js";
import type { Principal } from "./access.js";
import type { LoginThrottle } from "./login-throttle.js";
import type { PasswordHasher } from "./passwords.js";
import { deriveKey, macBase64url, SecretBox } from "./secret-box.js";
import { matchTotp } from "./totp.js";

/**
 * Why someone signs in: py42's JWT call, the console, HTTP Basic on one request, or an agent
 * registering a device. Two-factor authentication never applies to the agent (seed 001 "Local
 * two-factor authentication": "This setting does not apply to: the Code42 agent"; DECISIONS.md
 * "Authentication"): `agent` checks the password and the account, never a TOTP code.
 */
export type SignInPurpose = "jwt" | "session" | "basic" | "agent";

/** Tunables. */
export interface AuthServiceOptions {
  store: AuthorityStore;
  clock: Clock;
  keys: KeysLike;
  authorityGuid: string;
  hasher: PasswordHasher;
  throttle: LoginThrottle;
  settings: SettingsService;
  /** JWT lifetime (API.md §2.2: about 1 h). */
  jwtTtlMs?: number;
  /** Console session idle timeout (sliding). */
  sessionIdleMs?: number;
  /** Console session absolute lifetime. */
  sessionMaxMs?: number;
}

/** What a JWT says. */
interface UserClaims {
  typ: "user";
  iss: string;
  sub: string;
  ver: number;
  iat: number;
  exp: number;
  jti: string;
}

/** A freshly created console session. */
export interface NewSession {
  /** The cookie value (shown once, stored only hashed). */
  cookie: string;
  csrfToken: string;
  expiresAt: number;
}

/** The cookie that carries a console session. */
export const SESSION_COOKIE = "cairn_session";

const JWT_TYP = "user";
const SESSION_PREFIX = "cns";
const API_TOKEN_PREFIX = "cna";

/** Sign-in, tokens, sessions and principals. */
export class AuthService {
  readonly totpBox: SecretBox;
  private readonly csrfKey: Buffer;
  private readonly jwtTtlMs: number;
  private readonly idleMs: number;
  private readonly maxMs: number;

  constructor(private readonly o: AuthServiceOptions) {
    this.totpBox = new SecretBox(o.keys.escrowKek, "totp");
    this.csrfKey = deriveKey(o.keys.escrowKek, "csrf");
    this.jwtTtlMs = o.jwtTtlMs ?? HOUR_MS;
    this.idleMs = o.sessionIdleMs ?? 30 * MINUTE_MS;
    this.maxMs = o.sessionMaxMs ?? 12 * HOUR_MS;
  }

  /** Whether `user` must give a TOTP code: enrolled, or the org requires it. */
  async requiresTotp(user: User): Promise<{ required: boolean; enrolled: boolean }> {
    const totp = await this.o.store.getTotp(user.userId);
    const enrolled = totp?.state === "active";
    if (enrolled) return { required: true, enrolled };
    const org = await this.o.store.getOrg(user.orgId);
    const required = org !== undefined && (await this.o.settings.resolveOrg(org)).values.security.twoFactorRequired;
    return { required, enrolled };
  }

  /** `LOCAL` or `LOCAL_2FA` (unknown usernames: LOCAL_2FA, revealing nothing; API.md §2.4). */
  async loginType(username: string): Promise<"LOCAL" | "LOCAL_2FA"> {
    const user = await this.o.store.getUserByUsernameKey(usernameKey(username));
    if (user === undefined) return "LOCAL_2FA";
    return (await this.requiresTotp(user)).required ? "LOCAL_2FA" : "LOCAL";
  }

  /**
   * Checks a sign-in. Every failure before the TOTP step is INVALID_CREDENTIALS (unknown user,
   * wrong password, no password, blocked or deactivated user or org), costs one argon2
   * verification, and counts toward the throttle. Returns the user and whether the session may
   * only enroll two-factor authentication (org requires it, user has none yet).
   */
  async signIn(username: unknown, password: unknown, totp: unknown, source: string, purpose: SignInPurpose): Promise<{ user: User; enrollOnly: boolean }> {
    const key = typeof username === "string" ? usernameKey(username) : "";
    this.o.throttle.check(key, source);
    const user = key === "" ? undefined : await this.o.store.getUserByUsernameKey(key);
    const stored = user === undefined ? null : await this.o.store.getPasswordHash(user.userId);
    const ok = await this.o.hasher.verify(stored, typeof password === "string" ? password : "");
    if (!ok || user === undefined) {
      this.o.throttle.fail(key, source);
      throw new CairnError("INVALID_CREDENTIALS", "INVALID_CREDENTIALS: the username or password is wrong");
    }
    if (!(await this.isUsable(user))) throw new CairnError("INVALID_CREDENTIALS", "INVALID_CREDENTIALS: the username or password is wrong");
    const { required, enrolled } = purpose === "agent" ? { required: false, enrolled: false } : await this.requiresTotp(user);
    let enrollOnly = false;
    if (required) {
      if (purpose === "basic") throw new CairnError("TOTP_REQUIRED", "TOTP_REQUIRED: two-factor users cannot use Basic authentication; get a token");
      if (!enrolled) {
        if (purpose === "jwt") throw new CairnError("TOTP_REQUIRED", "TOTP_REQUIRED: enroll two-factor authentication in the console first");
        enrollOnly = true;
      } else {
        if (totp === undefined || totp === null || totp === "") throw new CairnError("TOTP_REQUIRED", "TOTP_REQUIRED: send the code from your authenticator");
        await this.spendTotp(user, totp, source, purpose === "jwt");
      }
    }
    this.o.throttle.succeed(key);
    await this.o.store.transaction((tx) => tx.touchLogin(user.userId, this.o.clock.now()));
    return { user, enrollOnly };
  }

  /**
   * Checks `code` against the user's active TOTP secret and spends its time step. DECISIONS.md:
   * a code is good once; py42 repeats a request after a 401, so on the JWT route the same code
   * may mint a second token for the same user from the same source address within its window.
   */
  async spendTotp(user: User, code: unknown, source: string, allowRepeat: boolean): Promise<void> {
    const rec = await this.o.store.getTotp(user.userId);
    if (rec === undefined) throw new CairnError("TOTP_INVALID", "TOTP_INVALID: no two-factor enrollment");
    const secret = this.totpBox.open(rec.secretSealed, String(user.userId));
    const step = matchTotp(secret, code, this.o.clock);
    if (step === null) {
      this.o.throttle.fail(usernameKey(user.username), source);
      throw new CairnError("TOTP_INVALID", "TOTP_INVALID: the code is wrong or expired");
    }
    await this.o.store.transaction(async (tx) => {
      const used = await tx.getTotpUse(user.userId, step);
      if (used !== undefined && !(allowRepeat && used.source === source && used.uses < 2)) {
        throw new CairnError("TOTP_INVALID", "TOTP_INVALID: the code was already used");
      }
      await tx.recordTotpUse(user.userId, step, totpUseSource(source, allowRepeat), this.o.clock.now());
    });
  }

  /** Active, not blocked, and in an org chain that is neither blocked nor deactivated. */
  async isUsable(user: User): Promise<boolean> {
    if (!user.active || user.blocked) return false;
    const org = await this.o.store.getOrg(user.orgId);
    if (org === undefined) return false;
    const chain = await this.o.store.orgChainState(org.path);
    return !chain.blocked && !chain.deactivated;
  }

  /** A JWT for `user` (API.md §2.2 `v3_user_token`). */
  issueJwt(user: User): string {
    return signToken({ typ: JWT_TYP, iss: this.o.authorityGuid, sub: user.userUid, ver: user.authVersion }, this.o.keys.signing, this.o.clock, this.jwtTtlMs);
  }

  /** The principal of a request, after its user and org were re-checked. */
  async principalFor(user: User, via: Principal["via"], source: string | null, requestId: string | null, extra: Partial<Principal> = {}): Promise<Principal> {
    if (!(await this.isUsable(user))) throw new CairnError("UNAUTHORIZED", "The account is blocked or deactivated");
    const org = await this.o.store.getOrg(user.orgId);
    const roles = (await this.o.store.rolesOf([user.userId])).get(user.userId) ?? [];
    return {
      kind: "user",
      userId: user.userId,
      userUid: user.userUid,
      username: user.username,
      orgId: user.orgId,
      orgPath: org?.path ?? null,
      roles,
      via,
      source,
      requestId,
      ...extra,
    };
  }

  /** Bearer credential → principal: a user JWT or an API token. Throws UNAUTHORIZED-class errors. */
  async authenticateBearer(token: string, source: string | null, requestId: string | null): Promise<Principal> {
    if (token.startsWith(`${API_TOKEN_PREFIX}_`)) return this.authenticateApiToken(token, source, requestId);
    const claims = verifyToken<UserClaims>(token, (kid) => this.o.keys.verifying.get(kid), this.o.clock, { typ: JWT_TYP });
    if (claims.iss !== this.o.authorityGuid) throw new CairnError("TOKEN_INVALID", "token from another authority");
    const user = await this.o.store.getUserByUid(claims.sub);
    if (user === undefined || user.authVersion !== claims.ver) throw new CairnError("TOKEN_REVOKED", "the token is no longer valid");
    return this.principalFor(user, "jwt", source, requestId);
  }

  private async authenticateApiToken(token: string, source: string | null, requestId: string | null): Promise<Principal> {
    const rec = await this.o.store.getApiTokenByHash(hashSecret(token));
    const now = this.o.clock.now();
    if (rec === undefined || !safeEqual(rec.tokenHash, hashSecret(token)) || rec.revokedAt !== null || (rec.expiresAt !== null && rec.expiresAt <= now)) {
      throw new CairnError("TOKEN_INVALID", "unknown, revoked or expired API token");
    }
    const user = await this.o.store.getUser(rec.userId);
    if (user === undefined) throw new CairnError("TOKEN_INVALID", "unknown API token");
    if (rec.lastUsedAt === null || now - rec.lastUsedAt > MINUTE_MS) await this.o.store.transaction((tx) => tx.touchApiToken(rec.tokenId, now));
    return this.principalFor(user, "api-token", source, requestId);
  }

  /** Creates an API token for `p` (shown once). */
  async createApiToken(p: Principal, name: string, expiresAt: number | null): Promise<{ token: string; tokenId: number }> {
    if (p.userId === null) throw new CairnError("FORBIDDEN", "only users hold API tokens");
    const token = newSecret(API_TOKEN_PREFIX);
    const rec = await this.o.store.transaction((tx) =>
      tx.insertApiToken({
        tokenHash: hashSecret(token),
        userId: p.userId as number,
        name,
        createdAt: this.o.clock.now(),
        expiresAt,
        lastUsedAt: null,
        revokedAt: null,
      }),
    );
    return { token, tokenId: rec.tokenId };
  }

  /** The CSRF token of a session cookie: HMAC of the cookie, so nothing extra is stored. */
  csrfFor(cookie: string): string {
    return macBase64url(this.csrfKey, cookie);
  }

  /** Starts a console session for `user`. */
  async createSession(user: User, source: string | null, enrollOnly: boolean): Promise<NewSession> {
    const cookie = newSecret(SESSION_PREFIX);
    const csrfToken = this.csrfFor(cookie);
    const now = this.o.clock.now();
    const expiresAt = now + this.idleMs;
    await this.o.store.transaction((tx) =>
      tx.insertSession({
        sessionHash: hashSecret(cookie),
        userId: user.userId,
        csrfHash: hashSecret(csrfToken),
        authVersion: user.authVersion,
        enrollOnly,
        source,
        createdAt: now,
        lastSeenAt: now,
        expiresAt,
        revokedAt: null,
      }),
    );
    return { cookie, csrfToken, expiresAt };
  }

  /** Session cookie → principal (sliding expiry). CSRF is checked by the HTTP layer. */
  async authenticateSession(cookie: string, source: string | null, requestId: string | null): Promise<Principal> {
    const hash = hashSecret(cookie);
    const s = await this.o.store.getSession(hash);
    const now = this.o.clock.now();
    if (s === undefined || !safeEqual(s.sessionHash, hash) || s.revokedAt !== null || s.expiresAt <= now || now - s.createdAt > this.maxMs) {
      throw new CairnError("UNAUTHORIZED", "The session has ended; sign in again");
    }
    const user = await this.o.store.getUser(s.userId);
    if (user === undefined || user.authVersion !== s.authVersion) throw new CairnError("UNAUTHORIZED", "The session has ended; sign in again");
    if (now - s.lastSeenAt > MINUTE_MS) await this.o.store.transaction((tx) => tx.touchSession(hash, now, now + this.idleMs));
    return this.principalFor(user, "session", source, requestId, { sessionHash: hash, enrollOnly: s.enrollOnly });
  }

  /** Ends a session. */
  async endSession(sessionHash: string): Promise<void> {
    await this.o.store.transaction((tx) => tx.revokeSession(sessionHash, this.o.clock.now()));
  }

  /** A request id for logs and audit entries. */
  static requestId(): string {
    return newOpaqueId();
  }
}

/**
 * The source recorded for a spent code: only a JWT may be minted again with it from the same
 * address (py42's repeat), so a use elsewhere (console sign-in, enrollment, disabling) is
 * recorded under a source no request has, and the JWT route's repeat never matches it.
 */
export function totpUseSource(source: string, allowRepeat: boolean): string {
  return allowRepeat ? source : `${source} (final)`;
}
