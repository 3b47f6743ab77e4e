/**
 * The registry of connected agents (`wss://A/v1/agent` with a device token). A device may hold
 * several links at once (the daemon's, and a CLI backup's short one); pushes go to all of them,
 * calls to the newest link that serves the method (the daemon serves `restore-order`). The
 * restores part uses it for push restores and `connectedServerUrl`; `restore-status` reports of
 * agents reach it through {@link AgentRegistry.onRestoreStatus}.
 */
import { type AGENT_CHANNEL, CairnError, type CallOptions, isCairnError, type ParamsOf, type ResultOf, type RpcPeer } from "@cairn/protocol";

type DeviceMethods = (typeof AGENT_CHANNEL)["b"]["methods"];
type AuthorityEvents = (typeof AGENT_CHANNEL)["a"]["events"];
/** The authority's peer on an agent link. */
export type AgentPeer = RpcPeer<(typeof AGENT_CHANNEL)["a"], (typeof AGENT_CHANNEL)["b"]>;

/** One live agent link. */
export interface AgentLink {
  deviceId: number;
  deviceGuid: string;
  userId: number;
  peer: AgentPeer;
  connectedAt: number;
  remoteAddress: string | null;
  /** What the agent last said it was doing (report-status). */
  activity: { backingUp: boolean; restoring: boolean };
  close(code: number, reason: string): void;
}

/** A push restore's progress as the receiving agent reports it. */
export type RestoreStatusReport = ParamsOf<(typeof AGENT_CHANNEL)["a"]["methods"], "restore-status"> & { deviceId: number; deviceGuid: string };

/** Every connected agent. */
export class AgentRegistry {
  private readonly byDevice = new Map<number, AgentLink[]>();
  private readonly restoreListeners = new Set<(r: RestoreStatusReport) => void>();

  /** Adds a link. */
  add(link: AgentLink): void {
    const list = this.byDevice.get(link.deviceId) ?? [];
    list.push(link);
    this.byDevice.set(link.deviceId, list);
  }

  /** Removes a link when its socket closes. */
  remove(link: AgentLink): void {
    const list = (this.byDevice.get(link.deviceId) ?? []).filter((l) => l !== link);
    if (list.length === 0) this.byDevice.delete(link.deviceId);
    else this.byDevice.set(link.deviceId, list);
  }

  /** Live links of a device, newest first. */
  linksOf(deviceId: number): AgentLink[] {
    return [...(this.byDevice.get(deviceId) ?? [])].reverse();
  }

  /** Whether a device holds a live control connection. */
  isConnected(deviceId: number): boolean {
    return this.byDevice.has(deviceId);
  }

  /** Whether the device of this GUID is connected. */
  isConnectedGuid(deviceGuid: string): boolean {
    for (const list of this.byDevice.values()) if (list[0]?.deviceGuid === deviceGuid) return true;
    return false;
  }

  /** What a connected device is doing (null: not connected). */
  activityOf(deviceId: number): { connected: boolean; backingUp: boolean; restoring: boolean } {
    const links = this.byDevice.get(deviceId) ?? [];
    return {
      connected: links.length > 0,
      backingUp: links.some((l) => l.activity.backingUp),
      restoring: links.some((l) => l.activity.restoring),
    };
  }

  /** Connected device ids. */
  connectedDeviceIds(): number[] {
    return [...this.byDevice.keys()];
  }

  /**
   * Calls a method the agent serves (`restore-order`, `cancel-restore`, `ping`) on the newest
   * link that serves it; DEVICE_NOT_CONNECTED when none is connected or none serves it.
   */
  async call<M extends keyof DeviceMethods & string>(
    deviceId: number,
    method: M,
    params: ParamsOf<DeviceMethods, M>,
    opts: CallOptions = {},
  ): Promise<ResultOf<DeviceMethods, M>> {
    for (const link of this.linksOf(deviceId)) {
      try {
        return (await link.peer.call(method, params, opts)) as ResultOf<DeviceMethods, M>;
      } catch (err) {
        if (isCairnError(err, "UNSUPPORTED") || isCairnError(err, "CONNECTION_LOST")) continue;
        throw err;
      }
    }
    throw new CairnError("DEVICE_NOT_CONNECTED", "The device is not connected");
  }

  /** Pushes an event to every link of these devices. */
  emit<E extends keyof AuthorityEvents & string>(deviceIds: Iterable<number>, event: E, data: import("@cairn/protocol").Infer<AuthorityEvents[E]>): void {
    for (const id of deviceIds) for (const l of this.byDevice.get(id) ?? []) l.peer.emit(event, data as never);
  }

  /** Closes every link of a device. */
  closeDevice(deviceId: number, code: number, reason: string): void {
    for (const l of this.byDevice.get(deviceId) ?? []) l.close(code, reason);
  }

  /** Subscribes to push-restore progress; returns the unsubscribe function. */
  onRestoreStatus(fn: (r: RestoreStatusReport) => void): () => void {
    this.restoreListeners.add(fn);
    return () => this.restoreListeners.delete(fn);
  }

  /** Delivers a restore-status report to the listeners. */
  restoreStatus(r: RestoreStatusReport): void {
    for (const fn of this.restoreListeners) fn(r);
  }

  /** Closes every link (server shutdown). */
  closeAll(): void {
    for (const list of this.byDevice.values()) for (const l of list) l.close(1001, "authority shutting down");
    this.byDevice.clear();
  }
}
