/**
 * Reading and editing the agent-configuration tree (API.md §5.4) that orgs carry as
 * `deviceDefaults` and devices as `settings`: scalars are strings or `{"@locked","#text"}`,
 * `{"@nil":"true"}` is null, a one-item list may come bare, and path sets and exclusions come in
 * two forms. Edits copy the tree (the caller PUTs the whole object back) and keep the form of what
 * they change, so that nothing the console does not show is lost.
 */
import type { SettingsTree } from "./api/types.js";

type Node = { [key: string]: unknown };
const isObj = (v: unknown): v is Node => typeof v === "object" && v !== null && !Array.isArray(v);

/** A scalar's value and whether it is locked. */
export interface Scalar {
  value: string | null;
  locked: boolean;
}

/** Deep copy (the tree is plain JSON). */
export function cloneTree<T>(t: T): T {
  return JSON.parse(JSON.stringify(t)) as T;
}

function walk(tree: SettingsTree | undefined, path: string[]): unknown {
  let cur: unknown = tree;
  for (const k of path) {
    if (Array.isArray(cur)) cur = cur[0];
    if (!isObj(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

function parentOf(tree: SettingsTree, path: string[]): Node {
  let cur: Node = tree;
  for (const k of path.slice(0, -1)) {
    let next = cur[k];
    if (Array.isArray(next)) next = next[0];
    if (!isObj(next)) {
      next = {};
      cur[k] = next;
    }
    cur = next as Node;
  }
  return cur;
}

/** Reads a scalar at a dotted path ("serviceBackupConfig.minutesUntilWarning"). */
export function readScalar(tree: SettingsTree | undefined, dotted: string): Scalar {
  const v = walk(tree, dotted.split("."));
  if (v === undefined || v === null) return { value: null, locked: false };
  if (isObj(v)) {
    if (v["@nil"] === "true") return { value: null, locked: v["@locked"] === "true" };
    const text = v["#text"];
    return { value: text === undefined || text === null ? null : String(text), locked: v["@locked"] === "true" };
  }
  return { value: String(v), locked: false };
}

/** Writes a scalar, keeping (or setting) its lock form. */
export function writeScalar(tree: SettingsTree, dotted: string, value: string, locked?: boolean): void {
  const path = dotted.split(".");
  const key = path[path.length - 1] as string;
  const p = parentOf(tree, path);
  const prev = p[key];
  const wasLocked = isObj(prev) && prev["@locked"] === "true";
  const lock = locked ?? wasLocked;
  p[key] = lock ? { "@locked": "true", "#text": value } : value;
}

/** Reads an integer scalar, or `fallback`. */
export function readInt(tree: SettingsTree | undefined, dotted: string, fallback: number): number {
  const v = readScalar(tree, dotted).value;
  const n = v === null ? Number.NaN : Number.parseInt(v, 10);
  return Number.isFinite(n) ? n : fallback;
}

/** Reads a boolean scalar, or `fallback`. */
export function readBool(tree: SettingsTree | undefined, dotted: string, fallback: boolean): boolean {
  const v = readScalar(tree, dotted).value;
  return v === null ? fallback : v.toLowerCase() === "true";
}

/** Reads an object value (a run window, a retention policy), unwrapping a lock; null for nil. */
export function readObject(tree: SettingsTree | undefined, dotted: string): { value: Node | null; locked: boolean } {
  const v = walk(tree, dotted.split("."));
  if (!isObj(v)) return { value: null, locked: false };
  const locked = v["@locked"] === "true";
  if ("#text" in v) return { value: isObj(v["#text"]) ? (v["#text"] as Node) : null, locked };
  if (v["@nil"] === "true") return { value: null, locked };
  return { value: v, locked: false };
}

/** Writes an object value (null: nil), keeping a lock form. */
export function writeObject(tree: SettingsTree, dotted: string, value: Node | null): void {
  const path = dotted.split(".");
  const key = path[path.length - 1] as string;
  const p = parentOf(tree, path);
  const prev = p[key];
  const inner: unknown = value === null ? { "@nil": "true" } : value;
  p[key] = isObj(prev) && prev["@locked"] === "true" ? { "@locked": "true", "#text": value === null ? { "@nil": "true" } : value } : inner;
}

/** Reads a list of strings stored as a JSON array (or a single string). */
export function readList(tree: SettingsTree | undefined, dotted: string): string[] {
  let v = walk(tree, dotted.split("."));
  if (isObj(v) && "#text" in v) v = v["#text"];
  if (Array.isArray(v)) return v.map((x) => (isObj(x) ? String(x["#text"] ?? "") : String(x))).filter(Boolean);
  if (typeof v === "string") return v ? [v] : [];
  return [];
}

/** Writes a list of strings. */
export function writeList(tree: SettingsTree, dotted: string, values: string[]): void {
  const path = dotted.split(".");
  const key = path[path.length - 1] as string;
  const p = parentOf(tree, path);
  const prev = p[key];
  p[key] = isObj(prev) && prev["@locked"] === "true" ? { "@locked": "true", "#text": values } : values;
}

/** The backup sets of a tree, as a mutable array view (the locked-count form included). */
export function backupSets(tree: SettingsTree | undefined): Node[] {
  const sets = walk(tree, ["serviceBackupConfig", "backupConfig", "backupSets"]);
  if (Array.isArray(sets)) return sets.filter(isObj);
  if (isObj(sets)) {
    const inner = sets.backupSet;
    if (Array.isArray(inner)) return inner.filter(isObj);
    if (isObj(inner)) return [inner];
    if (sets["@id"] !== undefined) return [sets];
  }
  return [];
}

/** A backup set's id, name and whether it is a legal-hold set (not editable). */
export function setInfo(set: Node): { id: string; name: string; locked: boolean; legalHold: boolean } {
  const name = isObj(set.name) ? String(set.name["#text"] ?? "") : String(set.name ?? "");
  const dest = set.destinations;
  const legalHold = isObj(dest) && dest["@locked"] === "true" && "destination" in dest;
  return { id: String(set["@id"] ?? ""), name: name || `Backup set ${String(set["@id"] ?? "")}`, locked: set["@locked"] === "true", legalHold };
}

function pathsets(set: Node): Node[] {
  const bp = set.backupPaths;
  if (!isObj(bp)) return [];
  const ps = bp.pathset;
  if (Array.isArray(ps)) return ps.filter(isObj);
  if (isObj(ps)) return isObj(ps.paths) ? [ps.paths] : [ps];
  return [];
}

/** Included and excluded paths of a set (every OS section together). */
export function setPaths(set: Node): { include: string[]; exclude: string[] } {
  const include: string[] = [];
  const exclude: string[] = [];
  for (const ps of pathsets(set)) {
    if (ps["@cleared"] === "true" && !ps.path) continue;
    const paths = Array.isArray(ps.path) ? ps.path : ps.path ? [ps.path] : [];
    for (const p of paths) {
      if (!isObj(p)) continue;
      if (typeof p["@include"] === "string") include.push(p["@include"]);
      if (typeof p["@exclude"] === "string") exclude.push(p["@exclude"]);
    }
  }
  return { include, exclude };
}

/** Replaces a set's paths (py42's form: `{"paths":{"@os","@cleared","path":[…]}}`). */
export function writeSetPaths(set: Node, include: string[], exclude: string[], os = "Linux"): void {
  const bp = isObj(set.backupPaths) ? set.backupPaths : {};
  const path = [...include.map((p) => ({ "@include": p, "@und": "false" })), ...exclude.map((p) => ({ "@exclude": p, "@und": "false" }))];
  bp.pathset = { paths: { "@os": os, "@cleared": path.length === 0 ? "true" : "false", path } };
  set.backupPaths = bp;
}

/** The filename-exclusion patterns (regular expressions) of a set. */
export function setPatterns(set: Node): string[] {
  const bp = set.backupPaths;
  if (!isObj(bp)) return [];
  let eu = bp.excludeUser;
  if (Array.isArray(eu)) eu = eu[0];
  if (!isObj(eu)) return [];
  const holder = isObj(eu.patternList) ? eu.patternList : eu;
  const pats = Array.isArray(holder.pattern) ? holder.pattern : holder.pattern ? [holder.pattern] : [];
  return pats.filter(isObj).map((p) => String(p["@regex"] ?? ""));
}

/** Replaces the filename-exclusion patterns (py42's `patternList` form). */
export function writeSetPatterns(set: Node, patterns: string[]): void {
  const bp = isObj(set.backupPaths) ? set.backupPaths : {};
  bp.excludeUser = {
    patternList: { pattern: patterns.map((r) => ({ "@regex": r })), windows: { pattern: [] }, macintosh: { pattern: [] }, linux: { pattern: [] } },
  };
  set.backupPaths = bp;
}

/** Destination GUIDs a set writes to, with their locks. */
export function setDestinations(set: Node): { guid: string; locked: boolean }[] {
  let d = set.destinations;
  if (isObj(d) && "destination" in d) d = d.destination;
  const list = Array.isArray(d) ? d : isObj(d) && d["@id"] !== undefined ? [d] : [];
  return list.filter(isObj).map((x) => ({ guid: String(x["@id"]), locked: x["@locked"] === "true" }));
}

/** Replaces a set's destinations. */
export function writeSetDestinations(set: Node, dests: { guid: string; locked: boolean }[]): void {
  set.destinations = dests.length === 0 ? { "@cleared": "true" } : dests.map((d) => (d.locked ? { "@id": d.guid, "@locked": "true" } : { "@id": d.guid }));
}
