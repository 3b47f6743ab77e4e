/**
 * The browsing half of restores (API.md §8 steps 2–9, §9, §10 steps 3 and 5): login and storage
 * tokens, restore sessions (the archive key opened as the key policy allows, DECISIONS.md), the
 * file tree, and size polling. Jobs (zip, server, push) are `restore-jobs.ts`.
 *
 * Rights: a restore needs `restore.personal` on the source device, which every user has on their
 * own devices and the restore roles grant over their scope; an invisible device is NOT_FOUND,
 * a visible one without the right FORBIDDEN (T24). Wrong archive passwords and custom keys are
 * limited per archive owner and per source address (`unlock-throttle.ts`, T21): past the limit a
 * session is refused with RATE_LIMITED before any key is derived.
 */
import { CairnError, isCairnError, type KeyPolicy, newOpaqueId, verifyToken } from "@cairn/protocol";
import { canSee, type Principal, requirePermission } from "../auth/access.js";
import type { AuthorityContext } from "../context.js";
import type { ArchiveRecord, Device } from "../db/device-records.js";
import type { Org } from "../db/records.js";
import { deviceTarget } from "../devices/device-service.js";
import { DATA_KEY_TOKEN_TYP } from "../http/routes/archive-routes.js";
import { archiveKeysOf, openArchiveKey, type RestoreSecret } from "./archive-keys.js";
import type { ArchiveSource, Catalog, CatalogEntry } from "./catalog.js";
import { archiveSourceOf, type RestorePlatform } from "./restore-platform.js";
import { type RestoreArchive, type RestoreSession, RestoreSessions } from "./restore-sessions.js";
import { StorageTokens } from "./storage-auth.js";
import { keyPolicyRefusal } from "../users/user-keys.js";
import { UnlockThrottle, type UnlockThrottleOptions } from "./unlock-throttle.js";

/** Options of restores (from the command line or a test). */
export interface RestoreOptions {
  /** The origin clients reach the authority at (`serverUrl` of §9); default: the request's Host. */
  publicUrl?: string;
  /** Where server file-system restores write (one folder per job); absent: not offered. */
  serverRestoreDir?: string;
  /** Zip jobs one user may have open (created and not yet downloaded) at once. */
  maxOpenZipsPerUser?: number;
  /** How long a zip stays downloadable (API.md: 24 h). */
  resultTtlMs?: number;
  /** Limits on wrong archive passwords and custom keys (T21). */
  unlockThrottle?: UnlockThrottleOptions;
}

/** A size-polling job (§8 steps 8–9): answered at once from the catalog. */
interface SizeJob {
  userId: number;
  deviceGuid: string;
  numFiles: number;
  numDirs: number;
  size: number;
  createdAt: number;
}

/** A visible device and its org. */
export interface DeviceForRestore {
  device: Device;
  org: Org;
}

/** Browsing restores. */
export class RestoreService {
  readonly tokens: StorageTokens;
  readonly sessions: RestoreSessions;
  /** Wrong archive passwords and custom keys (T21). */
  readonly unlocks: UnlockThrottle;
  private platformRef: RestorePlatform | null = null;
  private sourceRef: ArchiveSource | null = null;
  /** The destination each user last asked a login token for, per device (py42 reuses tokens). */
  private readonly lastDestination = new Map<number, Map<string, string>>();
  private readonly sizeJobs = new Map<string, SizeJob>();

  constructor(
    readonly ctx: AuthorityContext,
    readonly o: RestoreOptions = {},
  ) {
    this.tokens = new StorageTokens(ctx.clock);
    this.sessions = new RestoreSessions(ctx.clock, () => this.source);
    this.unlocks = new UnlockThrottle(ctx.clock, o.unlockThrottle);
  }

  /** Changes options after start (the command line's late values, tests). */
  configure(o: Partial<RestoreOptions>): void {
    Object.assign(this.o, o);
  }

  /** Plugs in the storage part (node and agent registries). */
  setPlatform(p: RestorePlatform): void {
    this.platformRef = p;
    this.sourceRef = archiveSourceOf(p.nodes);
  }

  /** The storage part; UNAVAILABLE until it is plugged in. */
  get platform(): RestorePlatform {
    if (this.platformRef === null) throw new CairnError("UNAVAILABLE", "Restores need the storage part of the authority");
    return this.platformRef;
  }

  /** How archives are read. */
  get source(): ArchiveSource {
    if (this.sourceRef === null) throw new CairnError("UNAVAILABLE", "Restores need the storage part of the authority");
    return this.sourceRef;
  }

  /** A device `p` may restore from (NOT_FOUND when invisible, FORBIDDEN without restore rights). */
  async deviceForRestore(p: Principal, deviceGuid: string): Promise<DeviceForRestore> {
    const device = await this.ctx.store.getDeviceByGuid(deviceGuid);
    const org = device === undefined ? undefined : await this.ctx.store.getOrg(device.orgId);
    if (device === undefined || org === undefined || !canSee(p, deviceTarget(device, org))) throw new CairnError("NOT_FOUND", "No such device");
    requirePermission(p, "restore.personal", deviceTarget(device, org), "device");
    if (device.blocked && device.userId === p.userId) throw new CairnError("FORBIDDEN", "This device is blocked: its owner cannot restore from it");
    return { device, org };
  }

  /** The device's archive on a destination (or its most recent one); NOT_FOUND when none. */
  async archiveOf(d: DeviceForRestore, destinationGuid: string | null): Promise<ArchiveRecord> {
    const all = await this.ctx.store.archivesOfDevices([d.device.deviceId]);
    const a = destinationGuid === null ? all[0] : all.find((x) => x.destinationGuid === destinationGuid);
    if (a === undefined) throw new CairnError("NOT_FOUND", "The device has no archive on that destination");
    return a;
  }

  /** §9 `POST /api/LoginToken`. */
  async loginToken(p: Principal, body: Record<string, unknown>): Promise<string> {
    if (p.userId === null) throw new CairnError("FORBIDDEN", "Only users restore");
    const who = body.userId;
    if (who !== undefined && who !== null && who !== "my" && String(who) !== String(p.userId))
      throw new CairnError("FORBIDDEN", "A login token is for the caller");
    const deviceGuid = String(body.sourceGuid ?? "");
    const destinationGuid = body.destinationGuid === undefined || body.destinationGuid === null ? null : String(body.destinationGuid);
    const d = await this.deviceForRestore(p, deviceGuid);
    const a = await this.archiveOf(d, destinationGuid);
    const user = await this.ctx.store.getUser(p.userId);
    if (user === undefined) throw new CairnError("UNAUTHORIZED", "No such user");
    const mine = this.lastDestination.get(p.userId) ?? new Map<string, string>();
    mine.set(deviceGuid, a.destinationGuid);
    this.lastDestination.set(p.userId, mine);
    return this.tokens.issueLogin({ userId: user.userId, authVersion: user.authVersion });
  }

  /** The principal behind `Authorization: token t1-t2` (dies with the user's credentials). */
  async storagePrincipal(pair: string, source: string | null, requestId: string | null): Promise<Principal> {
    const h = this.tokens.verify(pair);
    const user = await this.ctx.store.getUser(h.userId);
    if (user === undefined || user.authVersion !== h.authVersion) throw new CairnError("UNAUTHORIZED", "The storage token is no longer valid");
    return this.ctx.auth.principalFor(user, "jwt", source, requestId);
  }

  /** The restore facts of an archive. */
  async restoreArchive(d: DeviceForRestore, a: ArchiveRecord): Promise<RestoreArchive> {
    const org = (await this.ctx.store.getOrg(a.orgId)) ?? d.org;
    return {
      archiveId: a.archiveId,
      archiveGuid: a.archiveGuid,
      deviceId: d.device.deviceId,
      deviceGuid: d.device.deviceGuid,
      deviceName: d.device.name,
      destinationId: a.destinationId,
      destinationGuid: a.destinationGuid,
      destinationKind: a.destinationKind,
      serverId: a.serverId,
      serverGuid: a.serverGuid,
      userId: a.userId,
      userUid: a.userUid,
      orgId: org.orgId,
      orgUid: org.orgUid,
      orgPath: org.path,
    };
  }

  /** Whether the org lets the server decrypt file contents (its, possibly locked, web restore switch). */
  async contentAllowed(orgPath: string): Promise<boolean> {
    const r = await this.ctx.settings.resolveOrg({ path: orgPath });
    return r.values.packets.device_webRestore_enabled !== "false";
  }

  /** §8 step 5 `POST /api/WebRestoreSession`. */
  async openSession(p: Principal, body: Record<string, unknown>): Promise<RestoreSession> {
    if (p.userId === null) throw new CairnError("FORBIDDEN", "Only users restore");
    const deviceGuid = String(body.computerGuid ?? "");
    const d = await this.deviceForRestore(p, deviceGuid);
    if (typeof body.dataKeyToken === "string" && body.dataKeyToken !== "") this.checkDataKeyToken(p, body.dataKeyToken, deviceGuid);
    const a = await this.archiveOf(d, this.lastDestination.get(p.userId)?.get(deviceGuid) ?? null);
    const secret: RestoreSecret = {
      privatePassword: typeof body.privatePassword === "string" ? body.privatePassword : null,
      encryptionKey: typeof body.encryptionKey === "string" ? body.encryptionKey : null,
    };
    const uk = await this.ctx.store.getUserKey(a.userId);
    const orgPolicy = await this.keyPolicyOfUser(a.userId);
    // T21: a secret the caller sends is verified (scrypt for a password) only within the limits
    // on wrong ones, per archive owner and per source; past them nothing is derived at all
    const verifies = uk !== undefined && a.wrappedArchiveKey !== null && uk.keyPolicy !== "escrow" && keyPolicyRefusal(orgPolicy, uk) === null;
    const supplied = uk?.keyPolicy === "custom" ? !!secret.encryptionKey : !!secret.privatePassword;
    if (verifies) this.unlocks.check(a.userId, p.source);
    let ak: Buffer;
    try {
      ak = openArchiveKey(
        this.ctx.keys.escrowKek,
        uk,
        { archiveGuid: a.archiveGuid, userUid: a.userUid, wrapped: a.wrappedArchiveKey, keyVersion: a.keyVersion },
        secret,
        orgPolicy,
      );
    } catch (err) {
      if (verifies && supplied && (isCairnError(err, "PRIVATE_PASSWORD_INVALID") || isCairnError(err, "CUSTOM_KEY_INVALID"))) {
        this.unlocks.fail(a.userId, p.source);
        this.ctx.log.info({ archiveGuid: a.archiveGuid, userId: p.userId, code: err.code }, "wrong archive secret for a restore session");
      }
      throw err;
    }
    if (verifies) this.unlocks.succeed(a.userId);
    const archive = await this.restoreArchive(d, a);
    return this.sessions.open(p.userId, archive, ak, archiveKeysOf(ak, a.archiveGuid), await this.contentAllowed(archive.orgPath), uk?.keyPolicy ?? "escrow");
  }

  /** The effective key policy of the org a user belongs to now (escrow for an unknown user: nothing to refuse). */
  async keyPolicyOfUser(userId: number): Promise<KeyPolicy> {
    const user = await this.ctx.store.getUser(userId);
    const org = user === undefined ? undefined : await this.ctx.store.getOrg(user.orgId);
    return org === undefined ? "escrow" : (await this.ctx.settings.resolveOrg(org)).values.security.keyPolicy;
  }

  /**
   * Before a job decrypts on the server (zip, server disk) or hands the archive key to a device
   * (push): the key policy must still allow what the session was opened with. A policy raised
   * since (the escrowed copy destroyed, or the org now stronger than the record) refuses it.
   */
  async assertSessionKeyPolicy(s: RestoreSession): Promise<void> {
    const uk = await this.ctx.store.getUserKey(s.archive.userId);
    if (uk === undefined) throw new CairnError("NOT_FOUND", "The archive's user has no key");
    const refusal = keyPolicyRefusal(await this.keyPolicyOfUser(s.archive.userId), uk) ?? keyPolicyRefusal(uk.keyPolicy, { keyPolicy: s.keyPolicy });
    if (refusal !== null) throw refusal;
  }

  /** A data key token must be this authority's, for this caller and device, unexpired. */
  private checkDataKeyToken(p: Principal, token: string, deviceGuid: string): void {
    try {
      const c = verifyToken<{ typ: string; iss: string; sub: string; iat: number; exp: number; jti: string; dev?: string }>(
        token,
        (kid) => this.ctx.keys.verifying.get(kid),
        this.ctx.clock,
        { typ: DATA_KEY_TOKEN_TYP },
      );
      if (c.iss !== this.ctx.authorityGuid || c.sub !== p.userUid || c.dev !== deviceGuid)
        throw new CairnError("TOKEN_INVALID", "the data key token is for another user or device");
    } catch (err) {
      if (isCairnError(err, "TOKEN_INVALID") || isCairnError(err, "TOKEN_EXPIRED"))
        throw new CairnError("FORBIDDEN", "The data key token is not valid for this device");
      throw err;
    }
  }

  /** The caller's session, or NOT_FOUND. */
  session(p: Principal, id: string): RestoreSession {
    const s = p.userId === null ? undefined : this.sessions.get(p.userId, id);
    if (s === undefined) throw new CairnError("NOT_FOUND", "No such restore session (it may have expired)");
    return s;
  }

  /** §8 step 7: the roots, or the children of `fileId`. */
  async treeNodes(
    p: Principal,
    q: { sessionId: string; deviceGuid: string; fileId: string | null; at: number | null; showDeleted: boolean },
  ): Promise<{ cat: Catalog; nodes: CatalogEntry[] }> {
    const s = this.session(p, q.sessionId);
    if (s.archive.deviceGuid !== q.deviceGuid) throw new CairnError("NOT_FOUND", "The session is for another device");
    await this.assertSessionKeyPolicy(s);
    const cat = await this.sessions.catalog(s, q.at, q.showDeleted);
    if (q.fileId === null) return { cat, nodes: cat.roots() };
    const dir = cat.get(q.fileId);
    if (dir === undefined || (!q.showDeleted && cat.isDeleted(dir))) throw new CairnError("NOT_FOUND", "No such file in the backup");
    return { cat, nodes: dir.type === "dir" ? cat.children(dir, q.showDeleted) : [] };
  }

  /** §8 step 8: sizes the subtree of `fileId` at once; answers the job id. */
  async startSizing(p: Principal, q: { deviceGuid: string; fileId: string; at: number | null; showDeleted: boolean }): Promise<string> {
    if (p.userId === null) throw new CairnError("FORBIDDEN", "Only users restore");
    const s = this.sessions.latestFor(p.userId, q.deviceGuid);
    if (s === undefined) throw new CairnError("NOT_FOUND", "Open a restore session for this device first");
    await this.assertSessionKeyPolicy(s);
    // py42 sends showDeleted null here even for a file its tree walk (showDeleted=True) found
    // deleted: look the id up among the deleted too, and size a deleted selection with its
    // deleted contents, which is what its restore will hold
    const cat = await this.sessions.catalog(s, q.at, true);
    const e = cat.get(q.fileId);
    if (e === undefined) throw new CairnError("NOT_FOUND", "No such file in the backup");
    const now = this.ctx.clock.now();
    for (const [k, j] of this.sizeJobs) if (now - j.createdAt > 3_600_000) this.sizeJobs.delete(k);
    const jobId = newOpaqueId();
    const measured = cat.measure(e, q.showDeleted || cat.isDeleted(e));
    this.sizeJobs.set(jobId, { userId: p.userId, deviceGuid: q.deviceGuid, ...measured, createdAt: now });
    return jobId;
  }

  /** §8 step 9. */
  sizing(p: Principal, jobId: string, deviceGuid: string | null): { status: "DONE"; numFiles: number; numDirs: number; size: number } {
    const j = this.sizeJobs.get(jobId);
    if (j === undefined || j.userId !== p.userId || (deviceGuid !== null && j.deviceGuid !== deviceGuid)) throw new CairnError("NOT_FOUND", "No such size job");
    return { status: "DONE", numFiles: j.numFiles, numDirs: j.numDirs, size: j.size };
  }
}
