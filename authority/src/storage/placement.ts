/**
 * Where a new archive goes (issue 5): a store point of the destination that accepts new
 * archives (the administrator's flag and the node's own report), whose server is connected now
 * (the node must take `place-archive` before the agent gets a token), with free space; among
 * those the least used one: the fewest archive bytes placed on it, then the fewest archives,
 * then the lowest id (deterministic). Pure.
 */
import type { StorePointLoad } from "../db/device-records.js";

/** One candidate, with what only the running authority knows. */
export interface PlacementCandidate extends StorePointLoad {
  /** The server holds a live control link. */
  online: boolean;
  /** The node's own last word on the store point (null: not announced since start). */
  nodeAcceptsNew: boolean | null;
}

/** Store points that may take a new archive, best first. */
export function rankStorePoints(candidates: readonly PlacementCandidate[]): PlacementCandidate[] {
  return candidates
    .filter((c) => c.online && c.acceptingNew && c.acceptingData && c.nodeAcceptsNew !== false && c.freeBytes > 0)
    .sort((a, b) => a.archiveBytes - b.archiveBytes || a.archiveCount - b.archiveCount || a.storePointId - b.storePointId);
}
