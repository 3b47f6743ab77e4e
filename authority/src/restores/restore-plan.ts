/**
 * What a zip or server restore writes: the selected paths resolved in the session's catalog (a
 * file under its base name, a directory under its name with its whole subtree, or every full path
 * with `restoreFullPath`), each name checked by {@link unsafeReason} and made unique, and the
 * list of what was skipped or renamed (the warnings file). Sizes come from the catalog, never
 * from the request (API.md §8: "never trust step 10's counts").
 */
import { CairnError, isCairnError } from "@cairn/protocol";
import type { Catalog, CatalogEntry } from "./catalog.js";
import { baseName, NameSet, relativeName, unsafeReason, WARNINGS_FILE } from "./zip-names.js";

/** One selected path of a restore request. */
export interface SelectedPath {
  path: string;
  fileType: "FILE" | "DIRECTORY";
}

/** One planned entry. */
export interface PlannedEntry {
  entry: CatalogEntry;
  /** Relative name in the zip or below the restore folder (directories without the slash). */
  name: string;
}

/** A resolved selection. */
export interface RestorePlan {
  entries: PlannedEntry[];
  warnings: string[];
  files: number;
  dirs: number;
  bytes: number;
  /** The selected catalog paths (push restores hand these to the agent). */
  paths: string[];
}

/** Options of {@link planRestore}. */
export interface PlanOptions {
  showDeleted: boolean;
  fullPath: boolean;
  /**
   * Whether the restore writes symbolic links (a push: the receiving agent recreates them); a zip
   * or a server-disk restore skips them with a warning.
   */
  links?: boolean;
  /**
   * A push: the receiving agent writes the files and checks every path itself (its own safe-path
   * rules), so the zip's name rules (no backslash, no control character…) skip nothing.
   */
  deviceNames?: boolean;
}

/** Resolves `selected` in `cat`; BAD_REQUEST when nothing restorable is selected. */
export function planRestore(cat: Catalog, selected: readonly SelectedPath[], o: PlanOptions): RestorePlan {
  const plan: RestorePlan = { entries: [], warnings: [], files: 0, dirs: 0, bytes: 0, paths: [] };
  const names = new NameSet();
  names.reserve(WARNINGS_FILE);
  const seen = new Set<string>();
  const tops: CatalogEntry[] = [];
  for (const s of selected) {
    const e = cat.find(s.path);
    if (e === undefined || (!o.showDeleted && cat.isDeleted(e))) {
      plan.warnings.push(`not in the backup: ${JSON.stringify(s.path)}`);
      continue;
    }
    if (!tops.includes(e)) tops.push(e);
  }
  // a selection inside another selected directory adds nothing
  const covered = (e: CatalogEntry) =>
    tops.some((t) => t !== e && t.type === "dir" && (t.path === "/" || e.path.startsWith(t.path.endsWith("/") ? t.path : `${t.path}/`)));
  for (const top of tops.filter((t) => !covered(t))) {
    plan.paths.push(top.path);
    const topName = o.fullPath || top.path === "/" || /^[A-Za-z]:\/$/.test(top.path) ? "" : names.reserve(baseName(top.path));
    if (topName !== "" && topName !== baseName(top.path))
      plan.warnings.push(`renamed ${JSON.stringify(top.path)} to ${JSON.stringify(topName)}: another selected item has that name`);
    for (const e of cat.subtree(top, o.showDeleted)) {
      if (seen.has(e.path)) continue;
      seen.add(e.path);
      let name = relativeName(e.path, top.path, o.fullPath);
      if (topName !== "" && !o.fullPath) name = e === top ? topName : `${topName}${name.slice(baseName(top.path).length)}`;
      if (name === "") continue;
      const why = o.deviceNames === true ? null : unsafeReason(name);
      if (why !== null) {
        plan.warnings.push(`skipped ${JSON.stringify(e.path)}: ${why}`);
        continue;
      }
      if (e.type === "symlink" && o.links !== true) {
        plan.warnings.push(`skipped ${JSON.stringify(e.path)}: symbolic links are not restored here (target ${JSON.stringify(e.target ?? "")})`);
        continue;
      }
      if (e.type === "dir") {
        plan.entries.push({ entry: e, name });
        plan.dirs++;
        continue;
      }
      const unique = e === top && topName !== "" ? name : names.reserve(name);
      if (unique !== name) plan.warnings.push(`renamed ${JSON.stringify(e.path)} to ${JSON.stringify(unique)}: another entry has that name`);
      plan.entries.push({ entry: e, name: unique });
      plan.files++;
      plan.bytes += e.size;
    }
  }
  if (cat.unreadable.length > 0) plan.warnings.push(`skipped ${cat.unreadable.length} entries of the backup whose metadata could not be read`);
  if (plan.entries.length === 0) throw new CairnError("BAD_REQUEST", "Nothing restorable is selected", { details: { field: "restoreGroups" } });
  return plan;
}

/**
 * A push restore's plan (API.md §10): as {@link planRestore}, but a selection with nothing
 * restorable is one of the "bad combinations" §10 answers with 400 CREATE_FAILED, the only name
 * py42 turns into Py42BadRestoreRequestError (§1.6); a zip or server restore keeps §8's plain 400.
 */
export function planPushRestore(cat: Catalog, selected: readonly SelectedPath[], o: PlanOptions): RestorePlan {
  return asPushRefusal(() => planRestore(cat, selected, { ...o, links: true, deviceNames: true }));
}

/** Runs `fn`, turning a refused selection (BAD_REQUEST on restoreGroups) into §10's CREATE_FAILED. */
export function asPushRefusal<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (isCairnError(err, "BAD_REQUEST") && err.details?.field === "restoreGroups")
      throw new CairnError("CREATE_FAILED", `CREATE_FAILED: ${err.message.charAt(0).toLowerCase()}${err.message.slice(1)}`, {
        details: { field: "restoreGroups" },
        cause: err,
      });
    throw err;
  }
}

/** The warnings file's text (empty when nothing was skipped or renamed). */
export function warningsText(plan: RestorePlan, jobId: string): string {
  if (plan.warnings.length === 0) return "";
  return [`Cairn restore ${jobId}: ${plan.warnings.length} item(s) were skipped or renamed.`, "", ...plan.warnings, ""].join("\n");
}
