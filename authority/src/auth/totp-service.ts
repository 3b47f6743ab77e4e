/**
 * Two-factor enrollment for local users (T30): enrolling stores a pending secret and takes
 * effect only when a code from it is verified; disabling needs the password and a fresh code;
 * an administrator may reset a user who lost their authenticator.
 */
import { CairnError } from "@cairn/protocol";
import { auditEntry } from "../audit/audit.js";
import type { CoreDeps } from "../core.js";
import type { User } from "../db/records.js";
import type { UserService } from "../users/user-service.js";
import type { Principal } from "./access.js";
import { type AuthService, totpUseSource } from "./auth-service.js";
import type { PasswordHasher } from "./passwords.js";
import { enrollmentFor, matchTotp, newTotpSecret, type TotpEnrollment } from "./totp.js";

/** TOTP enrollment, confirmation, removal. */
export class TotpService {
  constructor(
    private readonly d: CoreDeps,
    private readonly auth: AuthService,
    private readonly users: UserService,
    private readonly hasher: PasswordHasher,
  ) {}

  private async self(p: Principal): Promise<User> {
    if (p.userId === null) throw new CairnError("FORBIDDEN", "only users enroll two-factor authentication");
    return (await this.users.byId(p, p.userId)).user;
  }

  /** Starts (or restarts) an enrollment; refused while an active one exists. */
  async begin(p: Principal, issuer: string): Promise<TotpEnrollment> {
    const user = await this.self(p);
    const existing = await this.d.store.getTotp(user.userId);
    if (existing?.state === "active") throw new CairnError("CONFLICT", "Two-factor authentication is already on; turn it off first");
    const secret = newTotpSecret();
    const now = this.d.clock.now();
    await this.d.store.transaction(async (tx) => {
      await tx.putTotp({
        userId: user.userId,
        secretSealed: this.auth.totpBox.seal(secret, String(user.userId)),
        state: "pending",
        createdAt: now,
        activatedAt: null,
      });
      await tx.appendAudit(auditEntry(p, now, "user.totp.begin", { type: "user", id: user.userId, orgId: user.orgId }));
    });
    return enrollmentFor(secret, user.username, issuer);
  }

  /** Verifies a code from the pending secret and turns two-factor authentication on. */
  async confirm(p: Principal, code: unknown): Promise<void> {
    const user = await this.self(p);
    const rec = await this.d.store.getTotp(user.userId);
    if (rec === undefined || rec.state !== "pending") throw new CairnError("BAD_REQUEST", "No two-factor enrollment is pending");
    const step = matchTotp(this.auth.totpBox.open(rec.secretSealed, String(user.userId)), code, this.d.clock);
    if (step === null) throw new CairnError("TOTP_INVALID", "TOTP_INVALID: the code is wrong or expired");
    const now = this.d.clock.now();
    await this.d.store.transaction(async (tx) => {
      await tx.putTotp({ ...rec, state: "active", activatedAt: now });
      // the enrollment's code is spent for good: no JWT repeats it
      await tx.recordTotpUse(user.userId, step, totpUseSource(p.source ?? "", false), now);
      if (p.sessionHash !== undefined) await tx.clearSessionEnrollOnly(p.sessionHash);
      await tx.appendAudit(auditEntry(p, now, "user.totp.enable", { type: "user", id: user.userId, orgId: user.orgId }));
    });
  }

  /** Turns two-factor authentication off: needs the password and a fresh code, and the org must not require it. */
  async disable(p: Principal, password: unknown, code: unknown): Promise<void> {
    const user = await this.self(p);
    const ok = await this.hasher.verify(await this.d.store.getPasswordHash(user.userId), typeof password === "string" ? password : "");
    if (!ok) throw new CairnError("INVALID_CREDENTIALS", "INVALID_CREDENTIALS: the password is wrong");
    await this.auth.spendTotp(user, code, p.source ?? "", false);
    const org = await this.d.store.getOrg(user.orgId);
    if (org !== undefined && (await this.d.settings.resolveOrg(org)).values.security.twoFactorRequired) {
      throw new CairnError("BAD_REQUEST", "Your organization requires two-factor authentication");
    }
    const now = this.d.clock.now();
    await this.d.store.transaction(async (tx) => {
      await tx.deleteTotp(user.userId);
      await tx.appendAudit(auditEntry(p, now, "user.totp.disable", { type: "user", id: user.userId, orgId: user.orgId }));
    });
  }

  /** An administrator removes a user's enrollment (lost authenticator). */
  async reset(p: Principal, userId: number): Promise<void> {
    const { user, org } = await this.users.byId(p, userId);
    await this.users.requireAdminister(p, "user.lifecycle", user, org);
    const now = this.d.clock.now();
    await this.d.store.transaction(async (tx) => {
      await tx.deleteTotp(user.userId);
      await tx.bumpAuthVersion(user.userId, now);
      await tx.appendAudit(auditEntry(p, now, "user.totp.reset", { type: "user", id: user.userId, orgId: user.orgId }));
    });
  }
}
