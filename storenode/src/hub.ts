/**
 * Who is connected: data connections (agents) and control links (the own authority, tenant
 * authorities), by namespace. Revocations close the sockets they cover at once; heal requests
 * and archive-changed events go to whoever is connected.
 */
import type { ArchiveReport, NODE_CHANNEL, Revocation, RpcPeer, StorageClaims } from "@cairn/protocol";

/** What the hub needs of a data connection. */
export interface DataConn {
  readonly ns: string;
  readonly claims: StorageClaims;
  /** backup, restore, or null before `open`. */
  readonly mode: "backup" | "restore" | null;
  /** The backup session this connection holds open, if any. */
  readonly sessionId: string | null;
  /** Sends `revoked` and closes the socket. */
  revoke(reason: string): void;
  /** Sends a `heal` event (concatenated block ids). */
  heal(ids: Buffer): void;
  /** Finishes in-flight writes, then closes with 1001. */
  shutdown(): Promise<void>;
  /** Closes at once. */
  close(code: number, reason: string): void;
}

/** The node's side of a control link. */
export type NodePeer = RpcPeer<(typeof NODE_CHANNEL)["b"], (typeof NODE_CHANNEL)["a"]>;

/** What the hub needs of a control link. */
export interface ControlConn {
  readonly ns: string;
  readonly peer: NodePeer;
  close(code: number, reason: string): void;
}

/** The registry of live connections. */
export class Hub {
  readonly data = new Set<DataConn>();
  readonly control = new Set<ControlConn>();

  /** Data connections on one archive of a namespace. */
  onArchive(ns: string, archiveGuid: string): DataConn[] {
    return [...this.data].filter((c) => c.ns === ns && c.claims.arc === archiveGuid);
  }

  /** Open data connections of a device token. */
  ofDevice(ns: string, deviceGuid: string): DataConn[] {
    return [...this.data].filter((c) => c.ns === ns && c.claims.dev === deviceGuid);
  }

  /** Closes the sockets a revocation covers; returns how many. */
  revoke(ns: string, list: readonly Revocation[]): number {
    let n = 0;
    for (const c of [...this.data]) {
      if (c.ns !== ns) continue;
      const hit = list.find(
        (r) => (r.kind === "device" ? c.claims.dev : c.claims.usr) === r.guid && c.claims.iat * 1000 < r.before && (r.scope === "all" || c.mode === "restore"),
      );
      if (!hit) continue;
      const what = hit.kind === "device" ? "this device" : "this user";
      c.revoke(hit.scope === "all" ? `${what} was deauthorized or deactivated` : `restores are blocked for ${what}`);
      n++;
    }
    return n;
  }

  /** Asks the archive's connected agents to re-send damaged blocks; false when none is connected. */
  heal(ns: string, archiveGuid: string, ids: Buffer): boolean {
    const conns = this.onArchive(ns, archiveGuid);
    for (const c of conns) c.heal(ids);
    return conns.length > 0;
  }

  /** Control links of a namespace. */
  links(ns: string): ControlConn[] {
    return [...this.control].filter((c) => c.ns === ns);
  }

  /** Tells the namespace's authorities that an archive changed. */
  archiveChanged(ns: string, report: ArchiveReport): void {
    const connected = this.onArchive(ns, report.archiveGuid).length > 0;
    for (const l of this.links(ns)) {
      l.peer.emit("archive-changed", {
        archiveGuid: report.archiveGuid,
        lastCompletedBackup: report.lastCompletedBackup,
        archiveBytes: report.archiveBytes,
        connected,
      });
    }
  }
}
