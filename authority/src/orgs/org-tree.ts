/**
 * The organization tree's rules, as pure functions over paths (`/1/5/9/`: the ids from the
 * top-level org down). The source document's rules: names of 3 to 220 characters; any number of
 * children; the top-level org cannot be deactivated or moved; nothing moves under its own
 * descendant; a deactivated org accepts no new users or children.
 */
import { CairnError } from "@cairn/protocol";

/** The part of an org these rules look at. */
export interface TreeNode {
  orgId: number;
  parentId: number | null;
  path: string;
  active: boolean;
}

/** Shortest and longest org names (source document: "at least 3 characters, to a maximum of 220"). */
export const ORG_NAME_MIN_CHARS = 3;
export const ORG_NAME_MAX_CHARS = 220;

// Control characters and path separators have no place in a name (T33).
const FORBIDDEN_NAME_CHARS = /[\u0000-\u001f\u007f/\\]/;

/** Trims and checks an org name; throws ORG_NAME_INVALID. */
export function validateOrgName(name: unknown): string {
  if (typeof name !== "string") throw new CairnError("ORG_NAME_INVALID", "orgName is required");
  const trimmed = name.normalize("NFC").trim();
  const chars = [...trimmed].length;
  if (chars < ORG_NAME_MIN_CHARS || chars > ORG_NAME_MAX_CHARS) {
    throw new CairnError("ORG_NAME_INVALID", `Organization names have ${ORG_NAME_MIN_CHARS} to ${ORG_NAME_MAX_CHARS} characters`);
  }
  if (FORBIDDEN_NAME_CHARS.test(trimmed)) throw new CairnError("ORG_NAME_INVALID", "Organization names may not contain control characters, / or \\");
  return trimmed;
}

/** True for the top-level org. */
export function isTopLevel(org: Pick<TreeNode, "parentId">): boolean {
  return org.parentId === null;
}

/** True when `path` is `ancestorPath` or lies below it. */
export function isInSubtree(path: string, ancestorPath: string): boolean {
  return path.startsWith(ancestorPath);
}

/** True when `org` is a strict descendant of `ancestor`. */
export function isDescendant(org: Pick<TreeNode, "path">, ancestor: Pick<TreeNode, "path">): boolean {
  return org.path !== ancestor.path && org.path.startsWith(ancestor.path);
}

/** Ids on a path, top-level first: "/1/5/9/" → [1, 5, 9]. */
export function ancestorIds(path: string): number[] {
  return path
    .split("/")
    .filter((s) => s !== "")
    .map(Number);
}

/** The parent's id of a path, or null for the top level. */
export function parentIdOf(path: string): number | null {
  const ids = ancestorIds(path);
  return ids.length >= 2 ? (ids[ids.length - 2] as number) : null;
}

/** Checks that `parent` can take a new child org or user; throws ORG_DEACTIVATED. */
export function assertAcceptsMembers(parent: Pick<TreeNode, "active">): void {
  if (!parent.active) throw new CairnError("ORG_DEACTIVATED", "The organization is deactivated and accepts no new users or children");
}

/** Checks that `org` may be deactivated; throws ORG_TOP_LEVEL. */
export function assertCanDeactivate(org: Pick<TreeNode, "parentId">): void {
  if (isTopLevel(org)) throw new CairnError("ORG_TOP_LEVEL", "The top-level organization cannot be deactivated");
}

/** Checks that `org` may be blocked (blocking the top level would lock every account out). */
export function assertCanBlock(org: Pick<TreeNode, "parentId">): void {
  if (isTopLevel(org)) throw new CairnError("ORG_TOP_LEVEL", "The top-level organization cannot be blocked");
}

/**
 * Checks a move of `org` under `newParent`: not the top level, not under itself or a descendant,
 * and only between active orgs (the source document: "Change parent organization: not available
 * for the top-level or deactivated organizations").
 */
export function assertCanMove(org: TreeNode, newParent: TreeNode): void {
  if (isTopLevel(org)) throw new CairnError("ORG_TOP_LEVEL", "The top-level organization cannot be moved");
  if (isInSubtree(newParent.path, org.path)) throw new CairnError("ORG_MOVE_INVALID", "An organization cannot move under itself or its own descendant");
  if (!org.active) throw new CairnError("ORG_DEACTIVATED", "A deactivated organization cannot be moved");
  assertAcceptsMembers(newParent);
}

/** The effective block of an org: itself or any ancestor blocked. */
export function isEffectivelyBlocked(chain: readonly Pick<TreeNode, "orgId">[], blockedIds: ReadonlySet<number>): boolean {
  return chain.some((o) => blockedIds.has(o.orgId));
}
