/**
 * The registry of connected storage nodes: every live node control link, whether the node
 * dialled us (`wss://A/v1/storenode`, own nodes) or we dialled it (`wss://N/v1/tenant`, provider
 * nodes). Every call the authority makes to a node goes through here (`place-archive`,
 * `update-archive`, `purge-archive`, `revoke`, `maintain`, `archive-versions`, `archive-files`,
 * `archive-file-history`, `archive-get`, …): by server, or by archive (the server it is placed
 * on). A node that is not connected gets UNAVAILABLE at once, never a hang.
 */
import {
  type ArchivePlacement,
  CairnError,
  type CallOptions,
  type NODE_CHANNEL,
  type ParamsOf,
  type ResultOf,
  type Revocation,
  type RpcPeer,
} from "@cairn/protocol";
import type { Logger } from "pino";
import type { AuthorityStore } from "../db/store.js";

type NodeMethods = (typeof NODE_CHANNEL)["b"]["methods"];
/** The authority's peer on a node control link. */
export type NodePeer = RpcPeer<(typeof NODE_CHANNEL)["a"], (typeof NODE_CHANNEL)["b"]>;

/** One live control link. */
export interface NodeLink {
  serverId: number;
  serverGuid: string;
  destinationId: number;
  /** `own`: the node dialled us; `provider`: we dialled a provider's node as its tenant. */
  kind: "own" | "provider";
  peer: NodePeer;
  connectedAt: number;
  /** The node's own `acceptingNew` per node store point id, from its last announce. */
  nodeAcceptsNew: Map<number, boolean>;
  close(code: number, reason: string): void;
}

/** Every connected node. */
export class NodeRegistry {
  private readonly links = new Map<number, NodeLink>();
  private readonly waiters = new Map<number, Set<() => void>>();

  constructor(
    private readonly store: AuthorityStore,
    private readonly log: Logger,
  ) {}

  /** Adds a link (a newer link of the same server replaces the older, which is closed). */
  add(link: NodeLink): void {
    const old = this.links.get(link.serverId);
    this.links.set(link.serverId, link);
    if (old && old !== link) old.close(4409, "replaced by a newer connection");
    for (const w of this.waiters.get(link.serverId) ?? []) w();
    this.waiters.delete(link.serverId);
  }

  /** Removes a link when its socket closes. */
  remove(link: NodeLink): void {
    if (this.links.get(link.serverId) === link) this.links.delete(link.serverId);
  }

  /** The live link of a server. */
  get(serverId: number): NodeLink | undefined {
    return this.links.get(serverId);
  }

  /** Whether a server is connected. */
  isConnected(serverId: number): boolean {
    return this.links.has(serverId);
  }

  /** Every live link. */
  all(): NodeLink[] {
    return [...this.links.values()];
  }

  /** Resolves when the server is connected (tests, and a provider link's first start). */
  waitFor(serverId: number, timeoutMs = 10_000): Promise<void> {
    if (this.links.has(serverId)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const set = this.waiters.get(serverId) ?? new Set();
      this.waiters.set(serverId, set);
      const done = () => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(() => {
        set.delete(done);
        reject(new CairnError("TIMEOUT", `server ${serverId} did not connect`));
      }, timeoutMs);
      t.unref();
      set.add(done);
    });
  }

  /** Calls a method on a server's node; UNAVAILABLE when it is not connected. */
  call<M extends keyof NodeMethods & string>(
    serverId: number,
    method: M,
    params: ParamsOf<NodeMethods, M>,
    opts: CallOptions = {},
  ): Promise<ResultOf<NodeMethods, M>> {
    const link = this.links.get(serverId);
    if (link === undefined) return Promise.reject(new CairnError("UNAVAILABLE", "The storage server holding this archive is not connected"));
    return link.peer.call(method, params, opts) as Promise<ResultOf<NodeMethods, M>>;
  }

  /** Calls a method on the node that holds an archive (NOT_FOUND for an unknown or unplaced archive). */
  async callForArchive<M extends keyof NodeMethods & string>(
    archiveGuid: string,
    method: M,
    params: ParamsOf<NodeMethods, M>,
    opts: CallOptions = {},
  ): Promise<ResultOf<NodeMethods, M>> {
    const a = await this.store.getArchiveByGuid(archiveGuid);
    if (a === undefined || a.serverId === null) throw new CairnError("NOT_FOUND", "No such archive");
    return this.call(a.serverId, method, params, opts);
  }

  /** Sends revocations to every connected node at once (each applies them to its namespace). */
  broadcastRevocations(revocations: readonly Revocation[]): void {
    if (revocations.length === 0) return;
    for (const link of this.links.values()) {
      link.peer.call("revoke", { revocations: [...revocations] }).catch((err: unknown) => {
        this.log.warn({ err, serverId: link.serverId }, "revoke did not reach a node; it gets them with its next announce");
      });
    }
  }

  /** Sends lifted restore revocations (an unblock) to every connected node. */
  broadcastLift(revocations: readonly Revocation[]): void {
    if (revocations.length === 0) return;
    for (const link of this.links.values()) {
      link.peer.call("lift-revocations", { revocations: [...revocations] }).catch((err: unknown) => {
        this.log.warn({ err, serverId: link.serverId }, "lift-revocations did not reach a node; its next announce sets its restore revocations");
      });
    }
  }

  /** Sends a changed placement (quota, retention, cold) to the archive's node, if connected. */
  async updatePlacement(serverId: number, placement: ArchivePlacement): Promise<boolean> {
    if (!this.links.has(serverId)) return false;
    await this.call(serverId, "update-archive", placement);
    return true;
  }

  /** Closes every link (server shutdown). */
  closeAll(): void {
    for (const l of this.links.values()) l.close(1001, "authority shutting down");
    this.links.clear();
  }
}
