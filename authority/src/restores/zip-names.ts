/**
 * Entry names of a zip restore (RELIABILITY.md T35, zip-slip). Archive paths come from the
 * device and are never trusted: an entry name is the path relative to the selected item (or the
 * full path without its leading `/` or drive colon with `restoreFullPath`), and it is used only
 * when it is a normalized relative path that no extractor can take outside its folder: no empty,
 * `.` or `..` component (also after Unicode compatibility folding, so `．．` or `‥` do not pass),
 * no backslash, no leading `/` or drive, no NUL or control character, components of at most 255
 * bytes and names of at most 4,095 bytes. Anything else is skipped and listed in the warnings
 * file inside the zip. Names that would collide get ` (2)`, ` (3)`… before their extension.
 */

/** The file in the zip that lists what was skipped or renamed. */
export const WARNINGS_FILE = "RESTORE-WARNINGS.txt";
/** Longest component, in UTF-8 bytes. */
export const MAX_COMPONENT_BYTES = 255;
/** Longest entry name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 4095;

/** Why a name was refused, or null when it is safe. */
export function unsafeReason(name: string): string | null {
  if (name.length === 0) return "empty name";
  if (/[\u0000-\u001f\u007f]/.test(name)) return "control character or NUL in the name";
  if (name.includes("\\")) return "backslash in the name";
  if (name.startsWith("/")) return "absolute name";
  if (/^[A-Za-z0-9_]+:/.test(name)) return "drive or scheme prefix";
  if (Buffer.byteLength(name, "utf8") > MAX_NAME_BYTES) return "name too long";
  const parts = name.split("/");
  for (const p of parts) {
    if (p === "" || p === "." || p === "..") return "empty, '.' or '..' component";
    const folded = p.normalize("NFKC");
    if (folded === "." || folded === ".." || folded.includes("/") || folded.includes("\\") || /^\.+$/.test(folded.replace(/\s/g, "")))
      return "component that reads as '.', '..' or a separator";
    if (Buffer.byteLength(p, "utf8") > MAX_COMPONENT_BYTES) return "component too long";
  }
  return null;
}

/** `/home/ana/a.txt` → `home/ana/a.txt`; `C:/Users/x` → `C/Users/x`. */
export function fullPathName(path: string): string {
  return path.replace(/^([A-Za-z]):\//, "$1/").replace(/^\/+/, "");
}

/** The parent directory of an archive path (`/` and `C:/` are roots). */
export function parentPath(path: string): string | null {
  if (path === "/" || /^[A-Za-z]:\/$/.test(path)) return null;
  const i = path.lastIndexOf("/");
  if (i < 0) return null;
  if (i === 0) return "/";
  const head = path.slice(0, i);
  return /^[A-Za-z]:$/.test(head) ? `${head}/` : head;
}

/** The last component of an archive path. */
export function baseName(path: string): string {
  const p = path.endsWith("/") && path.length > 1 ? path.slice(0, -1) : path;
  return p.slice(p.lastIndexOf("/") + 1);
}

/** Entry name of `path` when `selected` (itself, or an ancestor directory) was selected. */
export function relativeName(path: string, selected: string, fullPath: boolean): string {
  if (fullPath) return fullPathName(path);
  const base = baseName(selected);
  if (path === selected) return base;
  const prefix = selected.endsWith("/") ? selected : `${selected}/`;
  const rest = path.slice(prefix.length);
  return base === "" ? rest : `${base}/${rest}`;
}

/** Makes names unique within one zip (case-insensitively, as most extractors' folders are). */
export class NameSet {
  private readonly taken = new Set<string>();

  /** Reserves a name, or returns it with ` (n)` before the extension when taken. */
  reserve(name: string): string {
    let candidate = name;
    for (let n = 2; this.taken.has(candidate.toLowerCase()); n++) {
      const slash = name.lastIndexOf("/");
      const dot = name.lastIndexOf(".");
      candidate = dot > slash + 1 ? `${name.slice(0, dot)} (${n})${name.slice(dot)}` : `${name} (${n})`;
    }
    this.taken.add(candidate.toLowerCase());
    return candidate;
  }

  /** Whether a name is taken (case-insensitive). */
  has(name: string): boolean {
    return this.taken.has(name.toLowerCase());
  }
}
