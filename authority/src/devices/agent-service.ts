/**
 * What the authority serves an authenticated agent (AGENT_CHANNEL side `a`): its configuration
 * (`get-config`: the resolver's settings through `toDeviceSettings`, the offered destinations
 * with archive, server and a fresh storage token), archives (`create-archive` places the archive
 * on a node of the destination with `place-archive` before answering), archive keys, the user
 * key's policy (raise-only), token renewal for every archive of the device, opt-ins, and the
 * agent's status reports.
 */
import { isDeepStrictEqual } from "node:util";
import {
  type AGENT_CHANNEL,
  type ArchivePlacement,
  type BackupSet,
  CairnError,
  type DeviceConfig,
  type DestinationOffer,
  KEY_POLICIES,
  newGuid,
  type ParamsOf,
  PASSWORD_WRAPPED_KEY_BYTES,
  type ResultOf,
  type ServerEndpoint,
} from "@cairn/protocol";
import { auditEntry } from "../audit/audit.js";
import { SYSTEM_PRINCIPAL } from "../auth/access.js";
import type { CoreDeps } from "../core.js";
import type { ArchiveRecord, Device, StorePoint } from "../db/device-records.js";
import type { Org, User } from "../db/records.js";
import type { OrgService } from "../orgs/org-service.js";
import { toDeviceSettings } from "../settings/device-settings.js";
import type { ResolvedSettings } from "../settings/resolve.js";
import { type PlacementCandidate, rankStorePoints } from "../storage/placement.js";
import { placementOf } from "../storage/placements.js";
import { issueStorageToken } from "../storage/storage-tokens.js";
import type { StorageService } from "../storage/storage-service.js";
import type { AgentLink } from "../ws/agent-registry.js";
import type { NodeRegistry } from "../ws/node-registry.js";
import { configVersionOf } from "./device-service.js";
import { lockedKeysOf, resolveDevice } from "./device-settings-service.js";

type Methods = (typeof AGENT_CHANNEL)["a"]["methods"];
type Params<M extends keyof Methods> = ParamsOf<Methods, M>;
type Result<M extends keyof Methods> = ResultOf<Methods, M>;

/** A device as the agent channel knows it, re-read on every call. */
export interface AgentDevice {
  device: Device;
  user: User;
  org: Org;
}

/** Run-window days for the agent: the letter of each day on, `-` off (the agent reads `_` as on). */
export function agentRunWindowDays(days: string): string {
  const letters = "SMTWTFS";
  return [...days].map((c, i) => (c === "_" || c === "-" ? "-" : (letters[i] ?? "1"))).join("");
}

/** A node's announced `wss://host:port` as the agent's data-channel URL `wss://host:port/v1/data`. */
export function dataUrlOf(nodeUrl: string): string {
  const base = nodeUrl.replace(/\/+$/, "");
  return base.endsWith("/v1/data") ? base : `${base}/v1/data`;
}

/** Agent-channel operations. */
export class AgentService {
  /** Hidden legal-hold sets of a device (the legal hold part plugs this in). */
  legalHoldSets: (device: Device) => Promise<BackupSet[]> = async () => [];

  constructor(
    private readonly d: CoreDeps,
    private readonly orgs: OrgService,
    private readonly nodes: NodeRegistry,
    private readonly storage: StorageService,
  ) {}

  /** The device of a live link, checked: active, authorized, its user and org present. */
  async current(deviceId: number): Promise<AgentDevice> {
    const device = await this.d.store.getDevice(deviceId);
    if (device === undefined || device.deauthorized) throw new CairnError("DEVICE_DEAUTHORIZED", "This device is not authorized");
    if (!device.active) throw new CairnError("DEVICE_DEAUTHORIZED", "This device is deactivated");
    const user = await this.d.store.getUser(device.userId);
    const org = await this.d.store.getOrg(device.orgId);
    if (user === undefined || org === undefined) throw new CairnError("DEVICE_DEAUTHORIZED", "This device is not authorized");
    return { device, user, org };
  }

  private async tokenFor(a: AgentDevice, archive: ArchiveRecord, settings: ResolvedSettings) {
    const sp = archive.storePointId === null ? undefined : await this.d.store.getStorePoint(archive.storePointId);
    // blocked (device, user or an org above): backups go on, restores do not (T27), also with
    // tokens issued after the block's revocation
    const blocked = a.device.blocked || a.user.blocked || (await this.d.store.orgChainState(a.org.path)).blocked;
    const backupOnly = blocked || (archive.destinationKind === "provider" && (await this.storage.isPrimaryAdmin(a.user.userId)));
    const restoreOnly = !backupOnly && (archive.cold || sp?.acceptingData === false);
    const scope = backupOnly ? "backup" : restoreOnly ? "restore" : "all";
    return issueStorageToken(
      this.d.keys,
      this.d.authorityGuid,
      this.d.clock,
      {
        deviceGuid: a.device.deviceGuid,
        userUid: a.user.userUid,
        orgUid: a.org.orgUid,
        archiveGuid: archive.archiveGuid,
        destinationGuid: archive.destinationGuid,
        scope,
      },
      settings.values.general.storageTokenTtlMs,
    );
  }

  private endpoint(archive: ArchiveRecord): ServerEndpoint | null {
    const url = archive.serverUrls[0];
    if (archive.serverGuid === null || url === undefined || archive.serverFingerprint === null) return null;
    return { serverGuid: archive.serverGuid, url: dataUrlOf(url), fingerprint: archive.serverFingerprint };
  }

  /** `get-config`. */
  async getConfig(a: AgentDevice): Promise<DeviceConfig> {
    const r = await resolveDevice(this.d.store, a.device, a.org);
    const optIns = await this.d.store.optInsOf(a.device.deviceId);
    const dests = new Map((await this.d.store.listDestinationRecords()).map((x) => [x.destinationGuid, x]));
    const archives = new Map((await this.d.store.archivesOfDevices([a.device.deviceId])).map((x) => [x.destinationGuid, x]));
    const offers = r.values.destinations.offers.filter((o) => dests.has(o.destinationGuid));
    const destinations: DestinationOffer[] = [];
    for (const o of offers) {
      const dest = dests.get(o.destinationGuid);
      if (dest === undefined) continue;
      const archive = archives.get(o.destinationGuid);
      const server = archive === undefined ? null : this.endpoint(archive);
      const token = archive === undefined || server === null ? null : await this.tokenFor(a, archive, r);
      destinations.push({
        destinationGuid: dest.destinationGuid,
        name: dest.name,
        autoStart: o.autoStart,
        optedIn: optIns.get(dest.destinationId) === true,
        isProvider: dest.kind === "provider",
        archiveGuid: archive === undefined || server === null ? null : archive.archiveGuid,
        server,
        token: token?.token ?? null,
        tokenExpiresAt: token?.expiresAt ?? null,
      });
    }
    const settings = toDeviceSettings(r.values, {
      destinations: destinations.map((x) => ({ destinationGuid: x.destinationGuid, active: x.autoStart || x.optedIn })),
      lockedKeys: lockedKeysOf(r),
      legalHoldSets: await this.legalHoldSets(a.device),
    });
    if (settings.runWindow !== null) settings.runWindow = { ...settings.runWindow, days: agentRunWindowDays(settings.runWindow.days) };
    const chain = await this.d.store.getOrgs(a.org.path.split("/").filter(Boolean).map(Number));
    return {
      configVersion: configVersionOf(a.device, a.user, chain),
      device: { guid: a.device.deviceGuid, name: a.device.name, blocked: a.device.blocked, active: a.device.active },
      user: { uid: a.user.userUid, username: a.user.username },
      org: { uid: a.org.orgUid, name: a.org.name },
      settings,
      destinations,
      serverTime: this.d.clock.now(),
    };
  }

  /** `create-archive`: the device's archive on a destination, placed on a node first. */
  async createArchive(a: AgentDevice, p: Params<"create-archive">): Promise<Result<"create-archive">> {
    const r = await resolveDevice(this.d.store, a.device, a.org);
    const dest = await this.d.store.getDestinationByGuid(p.destinationGuid);
    if (dest === undefined || !dest.active || !r.values.destinations.offers.some((o) => o.destinationGuid === dest.destinationGuid))
      throw new CairnError("FORBIDDEN", "This destination is not offered to the device's organization");
    let archive = await this.d.store.archiveOfDevice(a.device.deviceId, dest.destinationId);
    let created = false;
    if (archive === undefined || archive.storePointId === null || this.endpoint(archive) === null) {
      if (archive === undefined) await this.checkSeat(a);
      archive = await this.place(a, dest.destinationId, archive, r);
      created = true;
    }
    const server = this.endpoint(archive);
    if (server === null) throw new CairnError("UNAVAILABLE", "The archive's storage server is unknown");
    const t = await this.tokenFor(a, archive, r);
    return { archiveGuid: archive.archiveGuid, server, token: t.token, tokenExpiresAt: t.expiresAt, created };
  }

  /** Users with an archive count toward the org's maximum user subscriptions (SEATS_EXHAUSTED at the cap). */
  private async checkSeat(a: AgentDevice): Promise<void> {
    const mine = await this.d.store.listArchives({ scope: { kind: "all" }, userId: a.user.userId }, { offset: 0, limit: 1 });
    if (mine.total > 0) return;
    const seats = await this.orgs.seats(a.org);
    if (seats.available === 0) throw new CairnError("SEATS_EXHAUSTED", "The organization has no user subscription left for a new user to start backing up");
  }

  private async place(a: AgentDevice, destinationId: number, existing: ArchiveRecord | undefined, r: ResolvedSettings): Promise<ArchiveRecord> {
    const loads = await this.d.store.storePointLoads({ destinationId });
    const candidates: PlacementCandidate[] = loads.map((l) => {
      const link = this.nodes.get(l.serverId);
      return { ...l, online: link !== undefined, nodeAcceptsNew: link?.nodeAcceptsNew.get(l.nodeStorePointId ?? -1) ?? null };
    });
    const ranked = rankStorePoints(candidates);
    if (ranked.length === 0) {
      const why = candidates
        .map(
          (c) =>
            `${c.serverName}/${c.name}: ${!c.online ? "offline" : !c.acceptingNew ? "closed to new archives" : !c.acceptingData ? "closed to data" : c.nodeAcceptsNew === false ? "full on the node" : "no free space"}`,
        )
        .join("; ");
      const reason =
        loads.length === 0 ? "no storage server has enrolled in this destination yet" : `no store point of this destination takes new archives (${why})`;
      throw new CairnError(loads.length === 0 ? "DESTINATION_FULL" : "UNAVAILABLE", `The archive cannot be placed: ${reason}`);
    }
    const archiveGuid = existing?.archiveGuid ?? newGuid();
    const dest = await this.d.store.getDestination(destinationId);
    let lastErr: unknown = null;
    for (const sp of ranked) {
      const placement: ArchivePlacement = {
        archiveGuid,
        storePointId: sp.nodeStorePointId,
        deviceGuid: a.device.deviceGuid,
        userUid: a.user.userUid,
        orgUid: a.org.orgUid,
        destinationGuid: dest?.destinationGuid ?? "",
        quotaBytes: a.user.quotaBytes >= 0 ? a.user.quotaBytes : r.values.quota.defaultUserMaxBytes,
        retention: structuredClone(r.values.device.retention),
        cold: false,
      };
      let placed: { storePointId: number };
      try {
        placed = await this.nodes.call(sp.serverId, "place-archive", placement);
      } catch (err) {
        lastErr = err;
        this.d.log.warn({ err, serverId: sp.serverId }, "place-archive failed; trying the next store point");
        continue;
      }
      const onNode: StorePoint | undefined = (await this.d.store.storePointsOfServer(sp.serverId)).find((x) => x.nodeStorePointId === placed.storePointId);
      const storePointId = onNode?.storePointId ?? sp.storePointId;
      const now = this.d.clock.now();
      await this.d.store.transaction(async (tx) => {
        const again = await tx.archiveOfDevice(a.device.deviceId, destinationId);
        if (again === undefined)
          await tx.insertArchive({ archiveGuid, deviceId: a.device.deviceId, destinationId, storePointId, userId: a.user.userId, createdAt: now });
        else await tx.setArchiveStorePoint(again.archiveId, storePointId, now);
        await tx.appendAudit({
          ...auditEntry(
            SYSTEM_PRINCIPAL,
            now,
            "archive.create",
            { type: "archive", id: archiveGuid, orgId: a.org.orgId },
            { deviceGuid: a.device.deviceGuid, storePointId },
          ),
          actorKind: "device",
          actorUserId: a.user.userId,
          actorUsername: a.user.username,
        });
      });
      return (await this.d.store.archiveOfDevice(a.device.deviceId, destinationId)) as ArchiveRecord;
    }
    throw new CairnError("UNAVAILABLE", "No storage server of this destination took the archive", { cause: lastErr });
  }

  private async ownArchive(a: AgentDevice, archiveGuid: string): Promise<ArchiveRecord> {
    const archive = await this.d.store.getArchiveByGuid(archiveGuid);
    if (archive === undefined || archive.deviceId !== a.device.deviceId || archive.purgedAt !== null) throw new CairnError("NOT_FOUND", "No such archive");
    return archive;
  }

  /** `set-archive-key`: the archive key wrapped by the user key (a rotation needs a higher version). */
  async setArchiveKey(a: AgentDevice, p: Params<"set-archive-key">): Promise<void> {
    const archive = await this.ownArchive(a, p.archiveGuid);
    if (archive.wrappedArchiveKey !== null && p.keyVersion <= archive.keyVersion)
      throw new CairnError("CONFLICT", "This archive has a key of this version already; a new key needs a higher version");
    const now = this.d.clock.now();
    await this.d.store.transaction((tx) => tx.setArchiveKey(archive.archiveId, Buffer.from(p.wrappedArchiveKey), p.keyVersion, a.user.userId, now));
  }

  /** `get-archive-keys`: the wrapped keys of every archive of the user's devices. */
  async getArchiveKeys(a: AgentDevice): Promise<Result<"get-archive-keys">> {
    const archives = await this.d.store.listArchives({ scope: { kind: "all" }, userId: a.user.userId }, { offset: 0, limit: 100_000 });
    return {
      keys: archives.items.flatMap((x) =>
        x.wrappedArchiveKey === null
          ? []
          : [
              {
                archiveGuid: x.archiveGuid,
                deviceGuid: x.deviceGuid,
                destinationGuid: x.destinationGuid,
                wrappedArchiveKey: x.wrappedArchiveKey,
                keyVersion: x.keyVersion,
              },
            ],
      ),
    };
  }

  /** `set-user-key`: raises the user's key policy (never lowers it: KEY_POLICY_DOWNGRADE). */
  async setUserKey(a: AgentDevice, p: Params<"set-user-key">): Promise<void> {
    const rec = await this.d.store.getUserKey(a.user.userId);
    const orgPolicy = (await this.d.settings.resolveOrg(a.org)).values.security.keyPolicy;
    const floor = Math.max(KEY_POLICIES.indexOf(rec?.keyPolicy ?? "escrow"), KEY_POLICIES.indexOf(orgPolicy));
    if (KEY_POLICIES.indexOf(p.keyPolicy) < floor) throw new CairnError("KEY_POLICY_DOWNGRADE", "The key policy can be raised, never lowered");
    if (p.keyPolicy === "escrow") throw new CairnError("BAD_REQUEST", "The escrow policy's key is made by the authority");
    if (p.keyPolicy === "password" && (p.wrappedUserKey === null || p.wrappedUserKey.length !== PASSWORD_WRAPPED_KEY_BYTES))
      throw new CairnError("BAD_REQUEST", "The password policy needs the user key wrapped by the archive password");
    if (p.keyPolicy === "custom" && p.wrappedUserKey !== null) throw new CairnError("BAD_REQUEST", "A custom key never leaves the device");
    const now = this.d.clock.now();
    await this.d.store.transaction(async (tx) => {
      // raising drops the escrowed copy: the authority keeps only what the policy allows
      await tx.putUserKey(
        {
          userId: a.user.userId,
          keyPolicy: p.keyPolicy,
          keyVersion: rec?.keyVersion ?? 1,
          escrowWrapped: null,
          passwordWrapped: p.keyPolicy === "password" ? Buffer.from(p.wrappedUserKey as Uint8Array) : null,
        },
        now,
      );
      await tx.appendAudit({
        ...auditEntry(
          SYSTEM_PRINCIPAL,
          now,
          "user.key.policy",
          { type: "user", id: a.user.userId, orgId: a.org.orgId },
          { from: rec?.keyPolicy ?? null, to: p.keyPolicy },
        ),
        actorKind: "device",
        actorUserId: a.user.userId,
        actorUsername: a.user.username,
      });
    });
  }

  /** `renew-tokens`: a fresh storage token for every archive of the device. */
  async renewTokens(a: AgentDevice): Promise<Result<"renew-tokens">> {
    const r = await resolveDevice(this.d.store, a.device, a.org);
    const tokens: Result<"renew-tokens">["tokens"] = [];
    for (const archive of await this.d.store.archivesOfDevices([a.device.deviceId])) {
      const server = this.endpoint(archive);
      if (server === null) continue;
      const t = await this.tokenFor(a, archive, r);
      tokens.push({ destinationGuid: archive.destinationGuid, archiveGuid: archive.archiveGuid, server, token: t.token, tokenExpiresAt: t.expiresAt });
    }
    return { tokens };
  }

  /** `opt-in`: a destination offered without auto-start. */
  async optIn(a: AgentDevice, p: Params<"opt-in">): Promise<void> {
    const r = await resolveDevice(this.d.store, a.device, a.org);
    const dest = await this.d.store.getDestinationByGuid(p.destinationGuid);
    const offer = r.values.destinations.offers.find((o) => o.destinationGuid === p.destinationGuid);
    if (dest === undefined || !dest.active || offer === undefined) throw new CairnError("NOT_FOUND", "This destination is not offered to the device");
    // an auto-start destination is the organization's choice: the device cannot leave it
    if (!p.optIn && offer.autoStart)
      throw new CairnError("FORBIDDEN", "This destination starts automatically for the device's organization: only an administrator can change that");
    const now = this.d.clock.now();
    await this.d.store.transaction((tx) => tx.setOptIn(a.device.deviceId, dest.destinationId, p.optIn, now));
    this.d.events.emit("devices-changed", { deviceIds: [a.device.deviceId] });
  }

  /** `report-selection`: what the device's user selected on the device, shown with its settings. */
  async reportSelection(a: AgentDevice, p: Params<"report-selection">): Promise<void> {
    const sel = { include: [...p.include], exclude: [...p.exclude], excludePatterns: [...p.excludePatterns] };
    if (isDeepStrictEqual(sel, a.device.localSelection)) return;
    // display only: nothing changes in the device's configuration, so no config-changed goes out
    await this.d.store.transaction((tx) => tx.setDeviceLocalSelection(a.device.deviceId, sel));
  }

  /** `report-status`: the agent's figures per archive, and what it is doing. */
  async reportStatus(a: AgentDevice, link: AgentLink | null, p: Params<"report-status">): Promise<void> {
    const now = this.d.clock.now();
    const mine = new Map((await this.d.store.archivesOfDevices([a.device.deviceId])).map((x) => [x.archiveGuid, x]));
    await this.d.store.transaction(async (tx) => {
      await tx.touchDevice(a.device.deviceId, now, { agentVersion: p.agentVersion });
      for (const s of p.destinations) {
        const archive = mine.get(s.archiveGuid);
        if (archive === undefined) continue;
        await tx.putSelectionFigures(
          archive.archiveId,
          {
            selectedFiles: s.selectedFiles,
            selectedBytes: s.selectedBytes,
            todoFiles: s.todoFiles,
            todoBytes: s.todoBytes,
            lastBackupAt: s.lastBackup,
            ...(s.lastError !== undefined ? { lastError: s.lastError } : {}),
          },
          now,
        );
        // T20: a storage node that served an older version than the device had seen is a security
        // event for the administrators: audited when it starts (not at every retry until cleared)
        if (s.lastError?.code === "ROLLBACK_DETECTED" && archive.lastError?.code !== "ROLLBACK_DETECTED") {
          this.d.log.error(
            { archiveGuid: archive.archiveGuid, deviceGuid: a.device.deviceGuid },
            "a device detected a rollback of its archive on the storage node",
          );
          await tx.appendAudit({
            ...auditEntry(
              SYSTEM_PRINCIPAL,
              now,
              "archive.rollback-detected",
              { type: "archive", id: archive.archiveGuid, orgId: a.org.orgId },
              { deviceGuid: a.device.deviceGuid, serverGuid: archive.serverGuid, message: s.lastError.message },
            ),
            actorKind: "device",
            actorUserId: a.user.userId,
            actorUsername: a.user.username,
          });
        }
      }
    });
    if (link !== null) {
      link.activity = { backingUp: p.destinations.some((x) => x.backingUp), restoring: p.destinations.some((x) => x.restoring) };
    }
  }

  /** The placement of an archive as its node should hold it now. */
  placementOf(archive: ArchiveRecord): Promise<ArchivePlacement | undefined> {
    return placementOf(this.d.store, archive);
  }
}
