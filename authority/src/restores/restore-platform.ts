/**
 * What restores need from the devices and storage part: reading an archive on its node, the
 * connected agents (push restores), the provider rule, and storage tokens for a receiving
 * agent. {@link platformOf} builds it over the node and agent registries.
 */
import type { CallOptions, FileVersion, ParamsOf, ResultOf, ServerEndpoint } from "@cairn/protocol";
import type { AGENT_CHANNEL, NODE_CHANNEL } from "@cairn/protocol";
import type { Principal } from "../auth/access.js";
import type { ArchiveSource } from "./catalog.js";

type NodeMethods = (typeof NODE_CHANNEL)["b"]["methods"];
type DeviceMethods = (typeof AGENT_CHANNEL)["b"]["methods"];
type RestoreStatus = ParamsOf<(typeof AGENT_CHANNEL)["a"]["methods"], "restore-status">;

/** The node calls restores make (the node registry's `callForArchive`). */
export interface NodeCaller {
  callForArchive<M extends keyof NodeMethods & string>(
    archiveGuid: string,
    method: M,
    params: ParamsOf<NodeMethods, M>,
    opts?: CallOptions,
  ): Promise<ResultOf<NodeMethods, M>>;
}

/** The agent calls push restores make (the agent registry). */
export interface AgentCaller {
  isConnected(deviceId: number): boolean;
  call<M extends keyof DeviceMethods & string>(
    deviceId: number,
    method: M,
    params: ParamsOf<DeviceMethods, M>,
    opts?: CallOptions,
  ): Promise<ResultOf<DeviceMethods, M>>;
  onRestoreStatus(fn: (r: RestoreStatus & { deviceId: number; deviceGuid: string }) => void): () => void;
}

/** Everything restores take from the storage part. */
export interface RestorePlatform {
  nodes: NodeCaller;
  agents: AgentCaller;
  /** PROVIDER_RESTORE_FORBIDDEN for the primary administrator on a provider destination. */
  assertRestoreAllowed(p: Principal, archive: { destinationKind: "cluster" | "provider" }): Promise<void>;
  /** A restore-only storage token and the node endpoint for a receiving agent. */
  restoreAccess(archiveGuid: string): Promise<{ server: ServerEndpoint; token: string }>;
}

/** Page size of `archive-files`. */
const PAGE = 5000;

/** An {@link ArchiveSource} over the node calls. */
export function archiveSourceOf(nodes: NodeCaller): ArchiveSource {
  return {
    async files(archiveGuid, at, cursor, includeDeleted) {
      const r = await nodes.callForArchive(archiveGuid, "archive-files", { archiveGuid, at, cursor, limit: PAGE, includeDeleted });
      return { files: r.files as FileVersion[], cursor: r.cursor };
    },
    async fileHistory(archiveGuid, fileId) {
      return (await nodes.callForArchive(archiveGuid, "archive-file-history", { archiveGuid, fileId })).versions as FileVersion[];
    },
    async getBlocks(archiveGuid, ids, onBlock, signal) {
      const r = await nodes.callForArchive(
        archiveGuid,
        "archive-get",
        { archiveGuid, ids },
        { onBlock: (b) => onBlock(b.id, b.data, b.error?.message ?? null), timeoutMs: 120_000, ...(signal ? { signal } : {}) },
      );
      return r.count;
    },
    async missingBlocks(archiveGuid, ids) {
      const out = new Set<string>();
      const step = 4096 * 32;
      for (let o = 0; o < ids.length; o += step) {
        const r = await nodes.callForArchive(archiveGuid, "archive-missing", { archiveGuid, ids: ids.subarray(o, o + step) });
        for (let i = 0; i < r.missing.length; i += 32) out.add(r.missing.toString("hex", i, i + 32));
      }
      return out;
    },
  };
}
