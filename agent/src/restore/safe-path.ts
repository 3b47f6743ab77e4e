/**
 * Restore path safety (RELIABILITY.md T36, invariant 9). Paths read from an archive are never
 * trusted: each must be absolute, free of NUL, and made of normal components (no "", ".", "..");
 * it is mapped below the restore root component by component; every directory on the way that
 * already exists is checked with `lstat` and must be a real directory, never a symlink, so a
 * symlink restored (or planted) earlier cannot carry a later entry outside the target. Files are
 * opened `O_CREAT | O_EXCL | O_NOFOLLOW` under a temporary name and renamed into place.
 *
 * For restores to the original location the ancestors above the requested paths are the
 * device's own layout and are followed as the system resolves them; everything the archive
 * itself describes is checked as above.
 */
import { linkSync, lstatSync, mkdirSync, renameSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { CairnError } from "@cairn/protocol";

/** Longest path component in bytes (Linux NAME_MAX). */
export const NAME_MAX = 255;

/** Splits an archive path into safe components, or throws UNSAFE_PATH. */
export function archivePathComponents(path: string): string[] {
  if (typeof path !== "string" || path.length === 0) throw unsafe(path, "empty path");
  if (path.includes("\0")) throw unsafe(path, "path contains NUL");
  if (!path.startsWith("/")) throw unsafe(path, "path is not absolute");
  if (path === "/") return [];
  const parts = path.slice(1).split("/");
  for (const p of parts) {
    if (p === "" || p === "." || p === "..") throw unsafe(path, "path has an empty, '.' or '..' component");
    if (Buffer.byteLength(p, "utf8") > NAME_MAX) throw unsafe(path, "path component too long");
  }
  return parts;
}

/** Makes the UNSAFE_PATH error for a path (shown shortened and with NULs escaped). */
export function unsafe(path: string, why: string): CairnError {
  const shown = String(path).slice(0, 200).replace(/\0/g, "\\0");
  return new CairnError("UNSAFE_PATH", `${why}: ${JSON.stringify(shown)}`, { details: { path: shown } });
}

/**
 * The mapping from archive paths to local paths for one restore.
 * - `target` set: entries go below `target` (`keepFrom` = how many leading components to drop).
 * - `target` null: entries go to their original place.
 */
export class RestoreMapper {
  /** Directories this restore created or verified (skip re-checking). */
  private readonly verified = new Set<string>();

  constructor(
    /** The real (symlink-free) restore root: the target folder, or "/" for the original place. */
    readonly root: string,
    /** Whether existing symlinks above the archive's own entries are trusted (original place). */
    private readonly trustAncestorsAbove: number,
  ) {}

  /** The local path for archive components (after dropping leading ones), or throws UNSAFE_PATH. */
  local(parts: readonly string[]): string {
    if (parts.length === 0) throw unsafe("/", "nothing to restore at the root");
    return join(this.root, ...parts);
  }

  /**
   * Creates (mode 0700, fixed later from the archive) or checks every parent directory of
   * `parts` below the root. Throws UNSAFE_PATH when one is a symlink or not a directory.
   */
  ensureParents(parts: readonly string[], original: string, trust = this.trustAncestorsAbove): void {
    let cur = this.root;
    for (let i = 0; i < parts.length - 1; i++) {
      cur = join(cur, parts[i] as string);
      if (this.verified.has(cur)) continue;
      let st: ReturnType<typeof lstatSync> | undefined;
      try {
        st = lstatSync(cur, { throwIfNoEntry: false });
      } catch (cause) {
        throw new CairnError("UNSAFE_PATH", `cannot check ${cur}`, { cause, details: { path: original.slice(0, 200) } });
      }
      if (!st) {
        mkdirSync(cur, { mode: 0o700 });
      } else if (st.isSymbolicLink()) {
        if (i >= trust) throw unsafe(original, `parent ${cur} is a symlink`);
      } else if (!st.isDirectory()) {
        throw unsafe(original, `parent ${cur} is not a directory`);
      }
      this.verified.add(cur);
    }
  }

  /** Forgets a verified directory (after replacing it). */
  forget(path: string): void {
    this.verified.delete(path);
  }
}

/** The longest start of `s` that is at most `max` bytes of UTF-8, cut between characters. */
export function utf8Prefix(s: string, max: number): string {
  if (Buffer.byteLength(s) <= max) return s;
  let out = "";
  let bytes = 0;
  for (const ch of s) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > max) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/**
 * Moves a finished temp file (or link) to `dest` by the existing-file policy, and returns `dest`.
 * "overwrite" replaces a file or link there; "rename" first moves it aside to a free
 * `name (original).ext` (RENAME_ORIGINAL, API.md §10: the existing file is renamed and never
 * overwritten; the restored one takes its name). A directory in the way is a CONFLICT.
 */
export function placeRestored(temp: string, dest: string, existing: "overwrite" | "rename"): string {
  const st = lstatSync(dest, { throwIfNoEntry: false });
  if (st) {
    if (st.isDirectory()) throw new CairnError("CONFLICT", `a directory is in the way of ${dest}`);
    if (existing === "rename") moveAside(dest);
  }
  renameSync(temp, dest);
  return dest;
}

/**
 * Moves the file at `path` to a free `name (original N).ext`. A hard link to the free name first
 * (it fails with EEXIST instead of replacing what another restore worker just put there), then
 * the unlink; a file system without hard links gets a checked rename.
 */
function moveAside(path: string): void {
  let taken = (p: string) => lstatSync(p, { throwIfNoEntry: false }) !== undefined;
  for (;;) {
    const cand = originalName(path, taken);
    try {
      linkSync(path, cand);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST") {
        const before = taken;
        taken = (p) => p === cand || before(p);
        continue;
      }
      if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "EMLINK") throw err;
      renameSync(path, cand);
      return;
    }
    unlinkSync(path);
    return;
  }
}

/**
 * A free name next to `path` for the file a "rename" restore moves aside: `name (original).ext`,
 * `name (original 2).ext`… The stem is shortened when the name would pass 255 bytes.
 */
export function originalName(path: string, exists: (p: string) => boolean): string {
  const slash = path.lastIndexOf("/");
  const dir = path.slice(0, slash + 1);
  const base = path.slice(slash + 1);
  const dot = base.lastIndexOf(".");
  const ext = dot > 0 && Buffer.byteLength(base.slice(dot)) <= 32 ? base.slice(dot) : "";
  const stem = ext ? base.slice(0, dot) : base;
  for (let n = 1; n < 10_000; n++) {
    const tag = ` (original${n === 1 ? "" : ` ${n}`})`;
    const cand = `${dir}${utf8Prefix(stem, NAME_MAX - Buffer.byteLength(tag + ext))}${tag}${ext}`;
    if (!exists(cand)) return cand;
  }
  throw new CairnError("CONFLICT", `no free name next to ${path}`);
}
