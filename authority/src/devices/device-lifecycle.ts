/**
 * What administrators do to a device (API.md §6, T27): block (the owner cannot restore on it;
 * backups go on), deactivate (backups stop, the archives go to cold storage; refused for a
 * custodian on an active legal hold), reactivate (undoes exactly its own deactivation), and
 * deauthorize (the device token dies, the agent is told and disconnected, nothing is lost:
 * registering again resumes). Revocations reach every connected node at once (`revoked` event).
 */
import { CairnError } from "@cairn/protocol";
import { auditEntry } from "../audit/audit.js";
import { type Principal, requirePermission, SYSTEM_PRINCIPAL } from "../auth/access.js";
import { coldStore } from "../cold-storage/cold-storage.js";
import type { CoreDeps } from "../core.js";
import type { Device } from "../db/device-records.js";
import type { NewAuditEntry as AuditInput, NewRevocation, User } from "../db/records.js";
import { type DeviceService, deviceTarget } from "./device-service.js";

/** Device lifecycle operations. */
export class DeviceLifecycle {
  constructor(
    private readonly d: CoreDeps,
    private readonly devices: DeviceService,
    /** Sends current placements (cold state) of these archives to their nodes. */
    private readonly pushPlacements: (archiveGuids: string[]) => Promise<void>,
  ) {}

  /** PUT (block) / DELETE (unblock) /api/ComputerBlock/{id}. */
  async setBlocked(p: Principal, deviceId: number, blocked: boolean): Promise<void> {
    const { device, org } = await this.devices.byId(p, deviceId);
    requirePermission(p, "device.lifecycle", deviceTarget(device, org), "device");
    if (device.blocked === blocked) return;
    const now = this.d.clock.now();
    const revocations: NewRevocation[] = blocked ? [{ kind: "device", guid: device.deviceGuid, before: now, scope: "restore" }] : [];
    let lifted: NewRevocation[] = [];
    await this.d.store.transaction(async (tx) => {
      await tx.setDeviceBlocked(device.deviceId, blocked, now);
      await tx.addRevocations(revocations, now);
      // unblocked: the storage tokens issued before the block may restore again at once
      if (!blocked) lifted = await tx.liftRestoreRevocations("device", device.deviceGuid, now);
      await tx.appendAudit(auditEntry(p, now, blocked ? "device.block" : "device.unblock", { type: "device", id: device.deviceId, orgId: device.orgId }));
    });
    if (blocked) this.d.events.emit("revoked", { revocations, userIds: [], deviceIds: [device.deviceId] });
    else {
      if (lifted.length > 0) this.d.events.emit("revocations-lifted", { revocations: lifted });
      this.d.events.emit("devices-changed", { deviceIds: [device.deviceId] });
    }
  }

  /** POST /api/v4/computer-deactivation/update `{"id"}`. */
  async deactivate(p: Principal, deviceId: number): Promise<void> {
    const { device, org } = await this.devices.byId(p, deviceId);
    requirePermission(p, "device.lifecycle", deviceTarget(device, org), "device");
    if (!device.active) return;
    if (await this.d.store.isOnActiveHold(device.userId))
      throw new CairnError("ACTIVE_LEGAL_HOLD", "ACTIVE_LEGAL_HOLD: the device's user is a custodian on an active legal hold");
    const now = this.d.clock.now();
    const revocations: NewRevocation[] = [{ kind: "device", guid: device.deviceGuid, before: now, scope: "all" }];
    const archives = (await this.d.store.archivesOfDevices([device.deviceId])).filter((a) => !a.cold);
    await this.d.store.transaction(async (tx) => {
      await tx.setDeviceActive(device.deviceId, false, now);
      const cold = await coldStore(tx, this.d.settings, archives, "device", device.deviceId, now);
      await tx.addRevocations(revocations, now);
      await tx.appendAudit(auditEntry(p, now, "device.deactivate", { type: "device", id: device.deviceId, orgId: device.orgId }, { coldArchives: cold }));
    });
    this.d.events.emit("revoked", { revocations, userIds: [], deviceIds: [device.deviceId] });
    await this.pushPlacements(archives.map((a) => a.archiveGuid));
  }

  /** POST /api/v4/computer-deactivation/remove `{"id"}`: undoes the device's own deactivation. */
  async reactivate(p: Principal, deviceId: number): Promise<void> {
    const { device, org, user } = await this.devices.byId(p, deviceId);
    requirePermission(p, "device.lifecycle", deviceTarget(device, org), "device");
    if (device.active) return;
    if (device.deactivatedByUserId !== null || device.deactivatedByOrgId !== null || !user.active)
      throw new CairnError("BAD_REQUEST", "This device was deactivated with its user or organization; reactivate that one");
    const now = this.d.clock.now();
    const archives = await this.d.store.archivesOfDevices([device.deviceId]);
    await this.d.store.transaction(async (tx) => {
      await tx.setDeviceActive(device.deviceId, true, now);
      const released = await tx.releaseColdStorage("device", device.deviceId);
      await tx.appendAudit(
        auditEntry(p, now, "device.reactivate", { type: "device", id: device.deviceId, orgId: device.orgId }, { releasedArchives: released }),
      );
    });
    await this.pushPlacements(archives.map((a) => a.archiveGuid));
  }

  /** PUT /api/ComputerDeauthorization/{id}: the device must register again; its data stays. */
  async deauthorize(p: Principal, deviceId: number): Promise<void> {
    const { device, org } = await this.devices.byId(p, deviceId);
    requirePermission(p, "device.lifecycle", deviceTarget(device, org), "device");
    const notify = await this.deauthorizeNow(device, (now) =>
      auditEntry(p, now, "device.deauthorize", { type: "device", id: device.deviceId, orgId: device.orgId }),
    );
    notify();
  }

  /**
   * The agent's `sign-out` (`cairn agent deauthorize`): the same as an administrator's
   * deauthorization, asked for by the device itself over its authenticated control channel.
   * Returns the notification of the agent and the nodes, for the channel to send once it has
   * answered (the notification closes the agent's socket).
   */
  async signOut(a: { device: Device; user: User }): Promise<() => void> {
    const { device, user } = a;
    return this.deauthorizeNow(device, (now) => ({
      ...auditEntry(SYSTEM_PRINCIPAL, now, "device.deauthorize", { type: "device", id: device.deviceId, orgId: device.orgId }, { by: "device" }),
      actorKind: "device",
      actorUserId: user.userId,
      actorUsername: user.username,
    }));
  }

  private async deauthorizeNow(device: Device, audit: (now: number) => AuditInput): Promise<() => void> {
    const now = this.d.clock.now();
    const revocations: NewRevocation[] = [{ kind: "device", guid: device.deviceGuid, before: now, scope: "all" }];
    await this.d.store.transaction(async (tx) => {
      await tx.setDeviceDeauthorized(device.deviceId, true, now);
      await tx.revokeDeviceTokens(device.deviceId, now);
      await tx.addRevocations(revocations, now);
      await tx.appendAudit(audit(now));
    });
    return () => {
      // the agent hears `deauthorized` (and wipes its key) before its socket closes
      this.d.events.emit("devices-deauthorized", { deviceIds: [device.deviceId] });
      this.d.events.emit("revoked", { revocations, userIds: [], deviceIds: [device.deviceId] });
    };
  }
}
