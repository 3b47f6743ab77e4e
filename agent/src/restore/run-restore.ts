/**
 * A restore of one archive (the engine behind `cairn agent restore` and pushed restore orders):
 * opens a restore session, lists the newest file versions at or before `at`, keeps those under
 * the requested paths, maps them below the restore root, and hands them to the {@link Restorer}.
 * Also `file-history` for `versions PATH`.
 */
import type { ProxySetting } from "../net/ws-link.js";
import { mkdirSync, realpathSync, statSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "pino";
import { CairnError, type Clock, deriveArchiveKeys, fileIdFor, isCairnError, openFileVersion } from "@cairn/protocol";
import { type ArchiveEndpoint, DataSession } from "../net/data-session.js";
import type { ProgressSink } from "../progress.js";
import { checkHead } from "../upload/rollback.js";
import { normalizeSelectionPath } from "../selection.js";
import { entryParts, leanMeta, type RestoreEntry, type RestoreError, Restorer, type RestoreResult } from "./restorer.js";
import { archivePathComponents, RestoreMapper } from "./safe-path.js";

/** Options of {@link runArchiveRestore}. */
export interface ArchiveRestoreOptions {
  endpoint: ArchiveEndpoint;
  archiveKey: Buffer;
  clock: Clock;
  logger: Logger;
  agentVersion: string;
  proxy?: ProxySetting;
  /** Newest version at or before this time (epoch ms); null or absent: the latest. */
  at?: number | null;
  /** Absolute source paths (a directory restores its subtree); empty: everything. */
  paths?: readonly string[];
  /** Target folder; null or absent: the original place. */
  target?: string | null;
  existing?: "overwrite" | "rename";
  /** With a target: keep each file's full path below it (default: only from the requested item down; full path when restoring everything). */
  fullPath?: boolean;
  progress?: ProgressSink;
  signal?: AbortSignal;
  /**
   * The version this device last committed to (or verified in) the archive: a node that serves
   * an older head, or another chain, is warned of (ROLLBACK_DETECTED, T20). The restore still
   * runs: what the node holds may be all a person has left.
   */
  known?: { seq: number; manifestHash: Buffer | null };
  /**
   * Also files deleted by `at` (the newest version): each as its last version before it was
   * deleted, as the web restore's "show deleted" offers them.
   */
  showDeleted?: boolean;
  /**
   * "original" (the default): each file keeps its backed-up mode; "current": this device's
   * defaults for new files and folders (its umask), execute bits kept for what had them.
   */
  permissions?: "original" | "current";
}

/**
 * This process's umask, read once when the module loads (before any restore or backup worker
 * runs): reading it sets it, so it is set straight back, and no file is being created then.
 */
const UMASK = ((): number => {
  const m = process.umask(0o022);
  process.umask(m);
  return m;
})();

/** A mode under this process's umask: 0o777 for folders and what was executable, 0o666 else. */
function currentMode(meta: { type: string; mode: number }, umask: number): number {
  return (meta.type === "dir" || (meta.mode & 0o111) !== 0 ? 0o777 : 0o666) & ~umask;
}

/** Deleted files whose last version is looked up at most in one restore (each costs one node call). */
export const MAX_DELETED_LOOKUPS = 10_000;

/** A problem with the archive as a whole that did not stop the restore. */
export interface RestoreWarning {
  code: string;
  message: string;
}

/** What a restore did, with the version time it restored. */
export interface ArchiveRestoreResult extends RestoreResult {
  versionTime: number | null;
  warnings: RestoreWarning[];
  /** Requested paths the version holds nothing at or below (deleted, or never backed up). */
  missing: string[];
}

function depthOf(p: string): number {
  return p === "/" ? 0 : p.split("/").length - 1;
}

/**
 * The restore folder, created when missing; its real path. Something other than a folder there,
 * or a folder that cannot be created, is a clear error before anything is fetched.
 */
function restoreTarget(target: string): string {
  try {
    mkdirSync(target, { recursive: true, mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST" || code === "ENOTDIR") throw new CairnError("USAGE", `the restore target is not a folder: ${target}`);
    if (code === "EACCES" || code === "EPERM" || code === "EROFS")
      throw new CairnError("TARGET_NOT_WRITABLE", `the restore target cannot be created (${code}): ${target}`, { cause: err });
    throw new CairnError("FILE_SYSTEM", `the restore target cannot be created (${code ?? "error"}): ${target}`, { cause: err });
  }
  if (!statSync(target).isDirectory()) throw new CairnError("USAGE", `the restore target is not a folder: ${target}`);
  return realpathSync(target);
}

/** Restores (part of) one archive. */
export async function runArchiveRestore(o: ArchiveRestoreOptions): Promise<ArchiveRestoreResult> {
  const keys = deriveArchiveKeys(o.archiveKey, o.endpoint.archiveGuid);
  const requested = (o.paths ?? []).map(normalizeSelectionPath);
  let root = "/";
  if (o.target) root = restoreTarget(o.target);
  const session = new DataSession({
    endpoint: o.endpoint,
    mode: "restore",
    agentVersion: o.agentVersion,
    clock: o.clock,
    logger: o.logger,
    proxy: o.proxy ?? null,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  try {
    await session.open();
    const at = o.at ?? null;
    const all = (await session.call("list-versions", {})).versions;
    const warnings: RestoreWarning[] = [];
    if (o.known && o.known.seq > 0 && o.known.manifestHash) {
      const top = all.reduce<(typeof all)[number] | null>((m, v) => (m === null || v.seq > m.seq ? v : m), null);
      try {
        await checkHead(session, keys, top ? { seq: top.seq, manifestHash: top.manifestHash } : null, o.known.seq, o.known.manifestHash);
      } catch (err) {
        if (!isCairnError(err, "ROLLBACK_DETECTED")) throw err;
        o.logger.error({ code: err.code, err: err.message }, "the storage node serves an older or another version history than this device committed");
        warnings.push({ code: err.code, message: `${err.message}: the restore used what the node holds, which may be older than this device's last backup` });
      }
    }
    const versions = all.filter((v) => at === null || v.time <= at);
    if (versions.length === 0)
      throw new CairnError("NOT_FOUND", at === null ? "the archive has no version yet" : "the archive has no version at or before that time");
    const versionTime = Math.max(...versions.map((v) => v.time));
    const entries: RestoreEntry[] = [];
    const bad: RestoreError[] = [];
    const showDeleted = o.showDeleted === true;
    const matched = new Set<string>();
    const umask = o.permissions === "current" ? UMASK : null;
    let lookups = 0;
    /** A deleted file's newest version that still held it (at or before `at`), or null. */
    // a deleted entry carries no path: a file asked for by its own path is known by its id and
    // always looked up; the cap bounds the look-ups of the rest (the contents of folders asked for)
    const askedIds = new Set(showDeleted ? requested.map((r) => fileIdFor(keys, r).toString("hex")) : []);
    const lastLive = async (fileId: Buffer): Promise<ListedFile | null> => {
      if (!askedIds.has(fileId.toString("hex")) && ++lookups > MAX_DELETED_LOOKUPS) return null;
      const { versions: history } = await session.call("file-history", { fileId });
      let best: ListedFile | null = null;
      for (const v of history) if (!v.deleted && v.meta && (at === null || v.time <= at) && (best === null || v.seq > best.seq)) best = v;
      return best;
    };
    let cursor: string | null = null;
    do {
      const page: { files: ListedFile[]; cursor: string | null } = await session.call("list-files", {
        at,
        cursor,
        limit: 5000,
        includeDeleted: showDeleted,
      });
      // The kept entries' block ids are copied into one buffer per page: a view of the page
      // itself would keep every page (sealed metadata included) alive for the whole restore.
      const kept: RestoreEntry[] = [];
      for (const listed of page.files) {
        const f = listed.deleted || !listed.meta ? (showDeleted ? await lastLive(listed.fileId) : null) : listed;
        if (f === null || !f.meta) continue;
        let meta: ReturnType<typeof openFileVersion>;
        try {
          meta = openFileVersion(keys, f.fileId, f.meta, f.blocks);
        } catch (err) {
          const known = (err as CairnError).details?.path;
          // A damaged file outside the requested paths is not this restore's business.
          if (typeof known === "string" && pickBase(known, requested) === undefined) continue;
          bad.push({
            path: typeof known === "string" ? known : `(file id ${f.fileId.toString("hex")})`,
            code: (err as CairnError).code ?? "DECRYPT_FAILED",
            message: (err as Error).message,
          });
          continue;
        }
        const base = pickBase(meta.path, requested);
        if (base === undefined) continue;
        matched.add(base);
        let parts: string[];
        try {
          parts = archivePathComponents(meta.path);
        } catch (err) {
          bad.push({ path: meta.path.slice(0, 200), code: "UNSAFE_PATH", message: (err as Error).message });
          continue;
        }
        const drop = o.target && !(o.fullPath ?? requested.length === 0) ? depthOf(base === "/" ? "/" : dirname(base)) : 0;
        // without a drop the components are the path after its "/" (a slice of the same string)
        const lean = leanMeta(meta);
        if (umask !== null) lean.mode = currentMode(lean, umask);
        kept.push({ meta: lean, blocks: f.blocks, rel: drop === 0 ? meta.path.slice(1) : parts.slice(drop).join("/") });
      }
      const ids = Buffer.allocUnsafeSlow(kept.reduce((a, k) => a + k.blocks.length, 0));
      let pos = 0;
      for (const k of kept) {
        ids.set(k.blocks, pos);
        entries.push({ meta: k.meta, blocks: ids.subarray(pos, pos + k.blocks.length), rel: k.rel });
        pos += k.blocks.length;
      }
      cursor = page.cursor;
    } while (cursor);
    if (lookups > MAX_DELETED_LOOKUPS)
      warnings.push({
        code: "PARTIAL",
        message: `more than ${MAX_DELETED_LOOKUPS} deleted files: only the first ${MAX_DELETED_LOOKUPS} were looked up and restored`,
      });
    if (!o.target) markTrust(entries);
    const restorer = new Restorer({
      keys,
      archiveKey: o.archiveKey,
      session,
      mapper: new RestoreMapper(root, 0),
      existing: o.existing ?? "overwrite",
      ...(o.progress ? { progress: o.progress } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    const usable = entries.filter((e) => e.rel !== "");
    const res = await restorer.run(usable);
    res.errors += bad.length;
    res.errorList.unshift(...bad.slice(0, 100));
    // a path asked for and not there is said, never dropped without a word
    const missing = [...new Set(requested)].filter((r) => !matched.has(r) && !bad.some((b) => b.path === r || b.path.startsWith(`${r}/`)));
    for (const m of missing.slice(0, 100))
      warnings.push({
        code: "NOT_FOUND",
        message: `${m} is not in the version of ${new Date(versionTime).toISOString()}${showDeleted ? "" : " (deleted, or never backed up)"}`,
      });
    return { ...res, versionTime, warnings, missing };
  } finally {
    await session.close(false);
  }
}

/** One file version as `list-files` and `file-history` answer it. */
interface ListedFile {
  fileId: Buffer;
  seq: number;
  deleted: boolean;
  blocks: Buffer;
  meta: Buffer | null;
}

/** The requested path an archive path falls under ("/" when everything is requested), or undefined. */
function pickBase(path: string, requested: readonly string[]): string | undefined {
  if (requested.length === 0) return "/";
  let best: string | undefined;
  for (const r of requested) {
    if (r === "/" || path === r || path.startsWith(`${r}/`)) {
      if (best === undefined || r.length > best.length) best = r;
    }
  }
  return best;
}

/** Original-place restores: parents the archive does not describe are the device's own layout. */
function markTrust(entries: RestoreEntry[]): void {
  const dirs = new Set(entries.filter((e) => e.meta.type === "dir").map((e) => `/${e.rel}`));
  for (const e of entries) {
    const parts = entryParts(e);
    let k = 0;
    let prefix = "";
    for (let i = 0; i < parts.length - 1; i++) {
      prefix += `/${parts[i]}`;
      if (dirs.has(prefix)) break;
      k = i + 1;
    }
    e.trust = k;
  }
}

/** One version of one file, as `versions PATH` shows it. */
export interface FileVersionInfo {
  seq: number;
  versionTime: number;
  size: number;
  deleted: boolean;
}

/** Lists every version of one file (`file-history`). */
export async function archiveFileHistory(o: {
  endpoint: ArchiveEndpoint;
  archiveKey: Buffer;
  path: string;
  clock: Clock;
  logger: Logger;
  agentVersion: string;
  proxy?: ProxySetting;
}): Promise<FileVersionInfo[]> {
  const keys = deriveArchiveKeys(o.archiveKey, o.endpoint.archiveGuid);
  const session = new DataSession({
    endpoint: o.endpoint,
    mode: "restore",
    agentVersion: o.agentVersion,
    clock: o.clock,
    logger: o.logger,
    proxy: o.proxy ?? null,
  });
  try {
    await session.open();
    const res = await session.call("file-history", { fileId: fileIdFor(keys, normalizeSelectionPath(o.path)) });
    return res.versions
      .map((v) => ({ seq: v.seq, versionTime: v.time, size: v.size, deleted: v.deleted }))
      .sort((a, b) => a.versionTime - b.versionTime || a.seq - b.seq);
  } finally {
    await session.close(false);
  }
}
