/**
 * The client side of the admin socket (`server/admin-socket.ts`): `cairn storenode maintain` and
 * `verify` ask a running node; with no node running they open the data directory themselves.
 */
import { existsSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { CairnError, fromWire, type WireError } from "@cairn/protocol";
import type { Logger } from "pino";
import { startStorenode } from "./index.js";
import type { MaintainResult } from "./maintenance/maintenance.js";
import { ADMIN_SOCKET } from "./server/admin-socket.js";

/** Options of {@link maintainNode}. */
export interface MaintainNodeOptions {
  dataDir: string;
  archiveGuid: string | null;
  verify: boolean;
  /** Verify only: no pruning, garbage collection or compaction. */
  verifyOnly?: boolean;
  logger: Logger;
}

function viaSocket(path: string, body: unknown): Promise<MaintainResult> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: path, method: "POST", path: "/maintain", headers: { "content-type": "application/json" } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        } catch (cause) {
          reject(new CairnError("INTERNAL", "the node's admin socket answered garbage", { cause }));
          return;
        }
        if (res.statusCode === 200) resolve(parsed as MaintainResult);
        else reject(fromWire(parsed as WireError));
      });
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

/** Runs maintenance (and verification) on a node, running or not. */
export async function maintainNode(o: MaintainNodeOptions): Promise<MaintainResult & { via: "running node" | "data directory" }> {
  const sock = join(o.dataDir, ADMIN_SOCKET);
  if (existsSync(sock)) {
    try {
      return { ...(await viaSocket(sock, { archiveGuid: o.archiveGuid, verify: o.verify, verifyOnly: o.verifyOnly === true })), via: "running node" };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ECONNREFUSED" && code !== "ENOENT") throw err;
    }
  }
  // Nobody serves this data directory: open it here, without listening for anyone but loopback.
  const node = await startStorenode({
    dataDir: o.dataDir,
    host: "127.0.0.1",
    port: 0,
    connectAuthority: false,
    adminSocket: false,
    maintenanceSchedule: null,
    verifySchedule: null,
    logger: o.logger,
  });
  try {
    return { ...(await node.maintainAll({ archiveGuid: o.archiveGuid, verify: o.verify, verifyOnly: o.verifyOnly === true })), via: "data directory" };
  } finally {
    await node.close();
  }
}
