/**
 * What a running storage node holds for an archive's placement, and the authority calls the
 * placement tests use to find archives and users (shared by the cold-storage and legal-hold
 * placement tests).
 */
import { join } from "node:path";
import type { Py42Client } from "@cairn/authority/testing";
import type { ArchivePlacement } from "@cairn/protocol";
import Database from "better-sqlite3";
import type { Cluster, ClusterAgent } from "./cluster.js";

/** The placement the cluster's first node holds for an archive (its registry row). */
export function nodePlacement(c: Cluster, archiveGuid: string): ArchivePlacement {
  const db = new Database(join(c.nodes[0]?.dataDir as string, "node.db"), { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare("SELECT placement FROM archives WHERE guid = ?").get(archiveGuid) as { placement: string } | undefined;
    if (row === undefined) throw new Error(`the node has no archive ${archiveGuid}`);
    return JSON.parse(row.placement) as ArchivePlacement;
  } finally {
    db.close();
  }
}

/** Waits until the authority pushed every queued placement (the push runs after the response). */
export const placementsPushed = (c: Cluster) => c.authority.ctx.placementSync.idle();

/** The GUID of an agent's (first) archive, as the API lists it. */
export async function archiveOf(py: Py42Client, a: ClusterAgent): Promise<string> {
  const d = (await py.data("GET", `/api/Computer/${a.registration.guid}?idType=guid&incBackupUsage=True`)) as { backupUsage: { archiveGuid: string }[] };
  return d.backupUsage[0]?.archiveGuid as string;
}

/** The numeric id of an agent's user. */
export async function userIdOf(py: Py42Client, a: ClusterAgent): Promise<number> {
  return ((await py.data("GET", `/api/User/${a.registration.userUid}?idType=uid`)) as { userId: number }).userId;
}
