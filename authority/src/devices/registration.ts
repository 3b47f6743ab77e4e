/**
 * Device registration over the agent channel (`register`, T26): the org's registration key
 * (looked up by hash, compared in constant time; unknown, rotated, blocked or deactivated keys
 * are one answer) and the user's password. Two-factor authentication does not apply to the agent
 * (seed 001 "Local two-factor authentication"; DECISIONS.md "Authentication"): registration never
 * asks for a TOTP code and ignores one that is sent, also in orgs that require two-factor. An unknown
 * username with a valid key creates that user in the key's org unless the org turns
 * `general.autoCreateUsers` off; a device lands only in the key's org (a user of another org is
 * refused). Failed attempts are limited per source address. The device token (`cnd_…`) is
 * stored as SHA-256. The answer carries the user key as the key policy allows: escrow hands it
 * over (made at first need, kept wrapped by the escrow KEK), password its password wrapping,
 * custom nothing.
 */
import {
  CairnError,
  type Clock,
  generateKey,
  hashSecret,
  type KeyPolicy,
  KEY_POLICIES,
  MINUTE_MS,
  newGuid,
  newSecret,
  type ParamsOf,
  type ResultOf,
  type AGENT_CHANNEL,
  unwrapKey,
  wrapContext,
  wrapKey,
} from "@cairn/protocol";
import { auditEntry } from "../audit/audit.js";
import { SYSTEM_PRINCIPAL } from "../auth/access.js";
import type { AuthService } from "../auth/auth-service.js";
import type { CoreDeps } from "../core.js";
import type { User } from "../db/records.js";
import { crashPoint } from "../faults.js";
import type { OrgService } from "../orgs/org-service.js";
import type { UserService } from "../users/user-service.js";
import { usernameKey } from "../users/usernames.js";

type RegisterParams = ParamsOf<(typeof AGENT_CHANNEL)["a"]["methods"], "register">;
type RegisterResult = ResultOf<(typeof AGENT_CHANNEL)["a"]["methods"], "register">;

/** Limits of {@link RegistrationThrottle}. */
export interface RegistrationThrottleOptions {
  /** Failed registrations from one address within the window before it is refused. */
  maxFailuresPerSource?: number;
  windowMs?: number;
}

/** Counts failed registrations per source address (T26: 1000 guesses a minute get nowhere). */
export class RegistrationThrottle {
  private readonly failures = new Map<string, number[]>();
  private readonly max: number;
  private readonly windowMs: number;

  constructor(
    private readonly clock: Clock,
    o: RegistrationThrottleOptions = {},
  ) {
    this.max = o.maxFailuresPerSource ?? 20;
    this.windowMs = o.windowMs ?? 15 * MINUTE_MS;
  }

  private recent(source: string): number[] {
    const cutoff = this.clock.now() - this.windowMs;
    const list = (this.failures.get(source) ?? []).filter((t) => t > cutoff);
    if (list.length === 0) this.failures.delete(source);
    else this.failures.set(source, list);
    return list;
  }

  /** RATE_LIMITED when the source is over its limit. */
  check(source: string): void {
    if (this.recent(source).length >= this.max) throw new CairnError("RATE_LIMITED", "Too many failed registrations; try again later");
  }

  /** Records a failure. */
  fail(source: string): void {
    if (this.failures.size > 100_000 && !this.failures.has(source)) this.failures.delete(this.failures.keys().next().value as string);
    this.failures.set(source, [...this.recent(source), this.clock.now()]);
  }
}

/** The stronger of two key policies. */
export function strongerPolicy(a: KeyPolicy, b: KeyPolicy): KeyPolicy {
  return KEY_POLICIES.indexOf(a) >= KEY_POLICIES.indexOf(b) ? a : b;
}

/** Device registration. */
export class RegistrationService {
  constructor(
    private readonly d: CoreDeps,
    private readonly auth: AuthService,
    private readonly orgs: OrgService,
    private readonly users: UserService,
    private readonly throttle: RegistrationThrottle,
  ) {}

  /** `register`. */
  async register(p: RegisterParams, source: string): Promise<RegisterResult> {
    this.throttle.check(source);
    let user: User;
    let org: Awaited<ReturnType<OrgService["byRegistrationKey"]>>;
    try {
      org = await this.orgs.byRegistrationKey(p.registrationKey);
      user = await this.userFor(p, org, source);
    } catch (err) {
      this.throttle.fail(source);
      throw err;
    }
    const settings = await this.d.settings.resolveOrg(org);
    const now = this.d.clock.now();
    const deviceToken = newSecret("cnd");
    const existing = p.existingDeviceGuid === null ? undefined : await this.d.store.getDeviceByGuid(p.existingDeviceGuid);
    const resume = existing !== undefined && existing.userId === user.userId;
    if (resume && !existing.active) throw new CairnError("FORBIDDEN", "This device is deactivated; an administrator must reactivate it first");
    const facts = {
      name: p.deviceName,
      osHostname: p.hostname,
      osName: p.osName,
      osVersion: p.osVersion,
      osArch: p.osArch,
      agentVersion: p.agentVersion,
      timeZone: p.timeZone,
      remoteAddress: source,
    };
    const { deviceGuid, keyPolicy, userKey, wrappedUserKey } = await this.d.store.transaction(async (tx) => {
      let deviceId: number;
      let deviceGuid: string;
      if (resume && existing) {
        await tx.revokeDeviceTokens(existing.deviceId, now);
        await tx.reregisterDevice(existing.deviceId, facts, now);
        deviceId = existing.deviceId;
        deviceGuid = existing.deviceGuid;
      } else {
        const dev = await tx.insertDevice({ deviceGuid: newGuid(), userId: user.userId, createdAt: now, ...facts });
        deviceId = dev.deviceId;
        deviceGuid = dev.deviceGuid;
      }
      await tx.insertDeviceToken(hashSecret(deviceToken), deviceId, now);
      // T04: a kill here leaves no device, no token and no audit row (the transaction never commits)
      crashPoint(this.d.faults, "device.register.afterDevice");
      // the user key, as the (raise-only) key policy allows
      const rec = await tx.getUserKey(user.userId);
      const keyPolicy = strongerPolicy(rec?.keyPolicy ?? "escrow", settings.values.security.keyPolicy);
      let userKey: Buffer | null = null;
      if (keyPolicy === "escrow") {
        const version = rec?.keyVersion ?? 1;
        if (rec?.escrowWrapped) userKey = unwrapKey(this.d.keys.escrowKek, rec.escrowWrapped, wrapContext.userKey(user.userUid, version));
        else {
          userKey = generateKey();
          await tx.putUserKey(
            {
              userId: user.userId,
              keyPolicy,
              keyVersion: version,
              escrowWrapped: wrapKey(this.d.keys.escrowKek, userKey, wrapContext.userKey(user.userUid, version)),
              passwordWrapped: null,
            },
            now,
          );
        }
      } else if (rec?.keyPolicy === "escrow" && rec.escrowWrapped) {
        // The org raised the policy after this user's key was made, and no device has protected
        // the key under the new policy yet: the escrowed copy is still the only one the user can
        // reach from a new device (a lost laptop). The user just proved their password, as under
        // escrow; this device takes the key and protects it at once (`set-user-key`, which drops
        // the escrowed copy). Meanwhile the authority decrypts nothing with it (keyPolicyRefusal).
        userKey = unwrapKey(this.d.keys.escrowKek, rec.escrowWrapped, wrapContext.userKey(user.userUid, rec.keyVersion));
      } else if (rec === undefined || rec.keyPolicy !== keyPolicy) {
        await tx.putUserKey(
          { userId: user.userId, keyPolicy, keyVersion: rec?.keyVersion ?? 1, escrowWrapped: null, passwordWrapped: rec?.passwordWrapped ?? null },
          now,
        );
      }
      const wrappedUserKey = keyPolicy === "password" ? ((await tx.getUserKey(user.userId))?.passwordWrapped ?? null) : null;
      await tx.appendAudit({
        ...auditEntry(
          SYSTEM_PRINCIPAL,
          now,
          resume ? "device.reregister" : "device.register",
          { type: "device", id: deviceId, orgId: org.orgId },
          {
            deviceGuid,
            username: user.username,
            deviceName: p.deviceName,
          },
        ),
        actorKind: "device",
        actorUserId: user.userId,
        actorUsername: user.username,
        source,
      });
      return { deviceGuid, keyPolicy, userKey, wrappedUserKey };
    });
    this.d.log.info({ deviceGuid, orgId: org.orgId, resume }, "device registered");
    return { deviceGuid, deviceToken, userUid: user.userUid, orgUid: org.orgUid, keyPolicy, userKey, wrappedUserKey };
  }

  /** The registering user: signed in, or created in the key's org (auto-create). */
  private async userFor(p: RegisterParams, org: Awaited<ReturnType<OrgService["byRegistrationKey"]>>, source: string): Promise<User> {
    const existing = await this.d.store.getUserByUsernameKey(usernameKey(p.username));
    if (existing !== undefined) {
      const { user } = await this.auth.signIn(p.username, p.password, null, source, "agent");
      if (user.orgId !== org.orgId) throw new CairnError("REGISTRATION_KEY_INVALID", "The registration key is unknown or revoked");
      return user;
    }
    const settings = await this.d.settings.resolveOrg(org);
    if (!settings.values.general.autoCreateUsers) {
      // the same answer (and the same cost) as a wrong password
      await this.auth.signIn(p.username, p.password, null, source, "agent");
      throw new CairnError("INVALID_CREDENTIALS", "INVALID_CREDENTIALS: the username or password is wrong");
    }
    const user = await this.users.create(SYSTEM_PRINCIPAL, {
      orgUid: org.orgUid,
      username: p.username,
      password: p.password,
      email: /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(p.username) ? p.username : null,
    });
    this.d.log.info({ userId: user.userId, orgId: org.orgId }, "user created at device registration");
    return user;
  }
}
