/**
 * What to back up: include roots, excluded paths below them, and exclusion patterns (regular
 * expressions matched against the absolute path; a directory is also tried with a trailing "/").
 * The organization's backup sets and the user's own choices (where the selection is not
 * locked) combine into one {@link Selection} per destination.
 */
import { isAbsolute, normalize } from "node:path";
import { type BackupSet, CairnError, type DeviceSettings, regexHazard } from "@cairn/protocol";

/** A selection as stored and exchanged. */
export interface SelectionSpec {
  include: string[];
  exclude: string[];
  excludePatterns: string[];
}

/** The empty selection. */
export const EMPTY_SELECTION: SelectionSpec = { include: [], exclude: [], excludePatterns: [] };

/** Normalizes a user-supplied absolute path (no trailing slash except "/"). */
export function normalizeSelectionPath(p: string): string {
  if (!isAbsolute(p)) throw new CairnError("USAGE", `selection paths must be absolute: ${p}`);
  if (p.includes("\0")) throw new CairnError("USAGE", "a path may not contain NUL");
  let n = normalize(p);
  if (n.length > 1 && n.endsWith("/")) n = n.slice(0, -1);
  return n;
}

function under(path: string, root: string): boolean {
  return root === "/" || path === root || path.startsWith(`${root}/`);
}

/** A compiled selection. */
export class Selection {
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  private readonly patterns: RegExp[];
  /** Exclusion patterns left out because they could backtrack for ever, with the reason. */
  readonly refusedPatterns: { pattern: string; reason: string }[] = [];
  readonly spec: SelectionSpec;

  constructor(spec: SelectionSpec) {
    const include = [...new Set(spec.include.map(normalizeSelectionPath))].sort();
    // Keep only the outermost roots.
    this.include = include.filter((p) => !include.some((q) => q !== p && under(p, q)));
    this.exclude = [...new Set(spec.exclude.map(normalizeSelectionPath))];
    this.patterns = [];
    for (const src of spec.excludePatterns) {
      let re: RegExp;
      try {
        re = new RegExp(src);
      } catch (cause) {
        throw new CairnError("CONFIG_INVALID", `invalid exclusion pattern ${JSON.stringify(src)}`, { cause });
      }
      // one such pattern would hang the scan (and the daemon with it) on a long enough name: it
      // is left out (what it would exclude is backed up) and said, never run, and never a reason
      // to back up nothing (a config saved before the authority refused such patterns)
      const hazard = regexHazard(src);
      if (hazard !== null) this.refusedPatterns.push({ pattern: src, reason: hazard });
      else this.patterns.push(re);
    }
    this.spec = { include: [...this.include], exclude: [...this.exclude], excludePatterns: [...spec.excludePatterns] };
  }

  /** The directories (or files) to walk. */
  roots(): readonly string[] {
    return this.include;
  }

  /** Whether a path is inside an include root (ignoring exclusions). */
  covers(path: string): boolean {
    return this.include.some((r) => under(path, r));
  }

  /** Whether an entry is selected: under an include root, not under an exclude, matching no pattern. */
  includes(path: string, isDir = false): boolean {
    if (!this.covers(path)) return false;
    for (const e of this.exclude) if (under(path, e)) return false;
    for (const re of this.patterns) {
      if (re.test(path)) return false;
      if (isDir && re.test(`${path}/`)) return false;
    }
    return true;
  }

  /** Whether the selection is empty. */
  get empty(): boolean {
    return this.include.length === 0;
  }
}

/** Merges two selection specs. */
export function mergeSelections(...specs: SelectionSpec[]): SelectionSpec {
  return {
    include: specs.flatMap((s) => s.include),
    exclude: specs.flatMap((s) => s.exclude),
    excludePatterns: specs.flatMap((s) => s.excludePatterns),
  };
}

/** Backup sets that go to a destination (a set listing no destination goes to all). */
export function setsFor(settings: DeviceSettings, destinationGuid: string): BackupSet[] {
  return settings.backupSets.filter((s) => s.destinations.length === 0 || s.destinations.includes(destinationGuid));
}

/**
 * Whether the organization locks the selection on this device. A legal-hold set is locked against
 * edits of its own, but it adds to what the device backs up and never takes the user's selection
 * away (API.md §11: a custodian keeps backing up what they chose).
 */
export function selectionLocked(settings: DeviceSettings | undefined): boolean {
  if (!settings) return false;
  return settings.selectionLocked || settings.backupSets.some((s) => s.locked && !s.legalHold);
}

/**
 * The effective selection for a destination: the organization's sets plus, unless locked, the
 * user's own selection.
 */
export function effectiveSelection(settings: DeviceSettings | undefined, destinationGuid: string, local: SelectionSpec): Selection {
  const specs: SelectionSpec[] = [];
  if (settings) for (const s of setsFor(settings, destinationGuid)) specs.push({ include: s.include, exclude: s.exclude, excludePatterns: s.excludePatterns });
  if (!selectionLocked(settings)) specs.push(local);
  return new Selection(mergeSelections(...specs));
}

/** Adds paths to a local selection (removing them from its exclusions). */
export function addToSelection(spec: SelectionSpec, paths: readonly string[]): SelectionSpec {
  const ps = paths.map(normalizeSelectionPath);
  return { ...spec, include: [...new Set([...spec.include, ...ps])], exclude: spec.exclude.filter((e) => !ps.includes(e)) };
}

/** Removes paths: an include root is dropped; a path below a root becomes an exclusion. */
export function removeFromSelection(spec: SelectionSpec, paths: readonly string[]): SelectionSpec {
  const ps = paths.map(normalizeSelectionPath);
  const include = spec.include.filter((i) => !ps.includes(i));
  const sel = new Selection({ ...spec, include });
  const exclude = [...spec.exclude];
  for (const p of ps) if (sel.covers(p) && !exclude.includes(p)) exclude.push(p);
  return { ...spec, include, exclude };
}

/** Adds exclusion patterns (validated). */
export function addExcludePatterns(spec: SelectionSpec, patterns: readonly string[]): SelectionSpec {
  // a bad pattern the user just typed is a usage error (a stored one, later, is CONFIG_INVALID)
  for (const p of patterns) {
    let s: Selection;
    try {
      s = new Selection({ include: [], exclude: [], excludePatterns: [p] });
    } catch (err) {
      throw new CairnError("USAGE", (err as Error).message);
    }
    const refused = s.refusedPatterns[0];
    if (refused)
      throw new CairnError(
        "USAGE",
        `exclusion pattern ${JSON.stringify(p)} could take for ever to match (${refused.reason}): write it without a repeat inside a repeat`,
      );
  }
  return { ...spec, excludePatterns: [...new Set([...spec.excludePatterns, ...patterns])] };
}
