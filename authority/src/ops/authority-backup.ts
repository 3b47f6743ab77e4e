/**
 * The authority's own backup and restore (`cairn authority backup` / `restore`).
 *
 * A backup is one file (format: `backup-format.ts`, docs/operations.md) holding a consistent
 * online copy of `authority.db` (SQLite's backup API, while `serve` keeps running), every file of
 * `keys/` (token-signing keys, the escrow KEK, the TLS key and certificate, the package-signing
 * key) and of `packages/` (imported agent packages). It holds the escrow KEK, so it is written
 * with mode 0600 (temp file, fsync, rename) and may be sealed with a passphrase.
 *
 * A restore unpacks into a new folder beside the target, checks every file's SHA-256, the
 * stream checksum, the database's integrity and schema version, and only then puts the folder in
 * place. A non-empty target is refused unless `force` (its contents are moved aside to
 * `<dir>.replaced-<time>`, never deleted).
 */
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { CairnError, type Clock, isoTime, type ScryptParams, systemClock } from "@cairn/protocol";
import { copyDatabase, inspectDatabase, SUPPORTED_SCHEMA_VERSION } from "../db/online-backup.js";
import { BackupReader, BackupWriter } from "./backup-format.js";

const DB_FILE = "authority.db";
const TREES = ["keys", "packages"] as const;
const PIECE = 1024 * 1024;

/** Options of {@link backupAuthority}. */
export interface BackupAuthorityOptions {
  dataDir: string;
  /** The backup file to write (replaced atomically when it exists). */
  to: string;
  /** Seal the file with this passphrase (at least 8 characters). */
  passphrase?: string;
  clock?: Clock;
  /** scrypt cost (tests only). */
  scrypt?: ScryptParams;
}

/** What a backup holds. */
export interface BackupManifest {
  authorityGuid: string;
  schemaVersion: number;
  createdAt: string;
  encrypted: boolean;
  files: { name: string; size: number; sha256: string }[];
}

function sha256Of(file: string): { sha256: Buffer; size: number } {
  const h = createHash("sha256");
  const fd = openSync(file, "r");
  const b = Buffer.alloc(PIECE);
  let size = 0;
  try {
    for (;;) {
      const n = readSync(fd, b, 0, PIECE, null);
      if (n === 0) break;
      h.update(b.subarray(0, n));
      size += n;
    }
  } finally {
    closeSync(fd);
  }
  return { sha256: h.digest(), size };
}

function filesUnder(root: string, dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith(".")) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(root, p));
    else if (e.isFile() && !e.name.endsWith(".tmp")) out.push(relative(root, p).split(sep).join("/"));
  }
  return out.sort();
}

/** Writes a backup of a (running or stopped) authority's data directory. */
export async function backupAuthority(o: BackupAuthorityOptions): Promise<BackupManifest> {
  const clock = o.clock ?? systemClock;
  const dbFile = join(o.dataDir, DB_FILE);
  if (!existsSync(dbFile)) throw new CairnError("NOT_FOUND", `no authority in ${o.dataDir} (no ${DB_FILE})`);
  const to = resolve(o.to);
  mkdirSync(dirname(to), { recursive: true });
  const tag = randomBytes(4).toString("hex");
  const dbCopy = `${to}.${tag}.db.tmp`;
  const tmp = `${to}.${tag}.tmp`;
  try {
    await copyDatabase(dbFile, dbCopy);
    chmodSync(dbCopy, 0o600);
    const facts = inspectDatabase(dbCopy);
    if (facts.integrity !== "ok") throw new CairnError("INTEGRITY", `the database copy failed its integrity check: ${facts.integrity.slice(0, 200)}`);
    if (facts.authorityGuid === null) throw new CairnError("CONFIG_INVALID", `the authority in ${o.dataDir} was never initialized`);
    const entries: { name: string; path: string; mode: number; sha256: Buffer; size: number }[] = [];
    const db = sha256Of(dbCopy);
    entries.push({ name: DB_FILE, path: dbCopy, mode: 0o600, ...db });
    for (const tree of TREES) {
      for (const rel of filesUnder(o.dataDir, join(o.dataDir, tree))) {
        const path = join(o.dataDir, rel);
        entries.push({ name: rel, path, mode: statSync(path).mode & 0o777, ...sha256Of(path) });
      }
    }
    const createdAt = clock.now();
    const manifest: BackupManifest = {
      authorityGuid: facts.authorityGuid,
      schemaVersion: facts.schemaVersion,
      createdAt: isoTime(createdAt),
      encrypted: o.passphrase !== undefined,
      files: entries.map((e) => ({ name: e.name, size: e.size, sha256: e.sha256.toString("hex") })),
    };
    const fd = openSync(tmp, "wx", 0o600);
    const w = new BackupWriter(fd, {
      createdAt,
      ...(o.passphrase !== undefined ? { passphrase: o.passphrase } : {}),
      ...(o.scrypt ? { scrypt: o.scrypt } : {}),
    });
    const m = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, "utf8");
    w.fileHeader("manifest.json", 0o600, m.length, createHash("sha256").update(m).digest());
    w.write(m);
    for (const e of entries) {
      w.fileHeader(e.name, e.mode, e.size, e.sha256);
      const src = openSync(e.path, "r");
      const b = Buffer.alloc(PIECE);
      let left = e.size;
      const h = createHash("sha256");
      try {
        while (left > 0) {
          const n = readSync(src, b, 0, Math.min(PIECE, left), null);
          if (n === 0) break;
          h.update(b.subarray(0, n));
          w.write(Buffer.from(b.subarray(0, n)));
          left -= n;
        }
      } finally {
        closeSync(src);
      }
      // a key file rewritten between hashing and copying would make the entry inconsistent
      if (left !== 0 || !h.digest().equals(e.sha256)) throw new CairnError("CONFLICT", `${e.name} changed while it was being backed up; run the backup again`);
    }
    w.finish();
    chmodSync(tmp, 0o600);
    renameSync(tmp, to);
    return manifest;
  } finally {
    rmSync(dbCopy, { force: true });
    rmSync(tmp, { force: true });
  }
}

/** Options of {@link restoreAuthority}. */
export interface RestoreAuthorityOptions {
  from: string;
  /** The data directory to restore into. */
  dataDir: string;
  passphrase?: string;
  /** Replace a non-empty data directory (moved aside to `<dir>.replaced-<time>`). */
  force?: boolean;
  clock?: Clock;
}

/** What a restore put in place. */
export interface RestoreResult extends BackupManifest {
  dataDir: string;
  /** Where the previous contents went (with `force`), else null. */
  replacedDir: string | null;
}

function safeName(name: string): string {
  const parts = name.split("/");
  const ok =
    (name === DB_FILE || (TREES as readonly string[]).includes(parts[0] ?? "")) &&
    parts.length <= 8 &&
    parts.every((p) => p !== "" && p !== "." && p !== ".." && !p.includes("\\") && !p.includes("\0"));
  if (!ok) throw new CairnError("INTEGRITY", `the backup holds an unexpected entry ${JSON.stringify(name.slice(0, 100))}`);
  return name;
}

/** Restores a backup into a data directory (the authority must not be running on it). */
export function restoreAuthority(o: RestoreAuthorityOptions): RestoreResult {
  const clock = o.clock ?? systemClock;
  const target = resolve(o.dataDir);
  const nonEmpty = existsSync(target) && readdirSync(target).length > 0;
  if (nonEmpty && o.force !== true)
    throw new CairnError("CONFLICT", `${target} is not empty; restore into an empty directory, or pass --force to move its contents aside`);
  let fd: number;
  try {
    fd = openSync(o.from, "r");
  } catch (cause) {
    throw new CairnError("NOT_FOUND", `cannot read the backup ${o.from}`, { cause });
  }
  mkdirSync(dirname(target), { recursive: true });
  const work = `${target}.restore-${randomBytes(4).toString("hex")}`;
  mkdirSync(work, { mode: 0o700 });
  try {
    let manifest: BackupManifest | null = null;
    try {
      const r = new BackupReader(fd, o.passphrase);
      const seen = new Set<string>();
      for (let f = r.nextFile(); f !== null; f = r.nextFile()) {
        const isManifest = f.name === "manifest.json" && manifest === null && seen.size === 0;
        const name = isManifest ? f.name : safeName(f.name);
        if (seen.has(name)) throw new CairnError("INTEGRITY", `the backup holds ${name} twice`);
        seen.add(name);
        const h = createHash("sha256");
        if (isManifest) {
          const b = r.read(f.size);
          h.update(b);
          if (!h.digest().equals(f.sha256)) throw new CairnError("INTEGRITY", "the backup's manifest is damaged");
          manifest = JSON.parse(b.toString("utf8")) as BackupManifest;
          continue;
        }
        if (manifest === null) throw new CairnError("INTEGRITY", "the backup has no manifest");
        const out = join(work, ...name.split("/"));
        mkdirSync(dirname(out), { recursive: true, mode: 0o700 });
        const w = openSync(out, "wx", 0o600);
        try {
          let left = f.size;
          while (left > 0) {
            const piece = r.read(Math.min(PIECE, left));
            h.update(piece);
            let off = 0;
            while (off < piece.length) off += writeSync(w, piece, off, piece.length - off);
            left -= piece.length;
          }
        } finally {
          closeSync(w);
        }
        if (!h.digest().equals(f.sha256)) throw new CairnError("INTEGRITY", `${name} in the backup does not match its checksum`);
        chmodSync(out, f.mode & 0o777);
      }
      if (manifest === null || !seen.has(DB_FILE)) throw new CairnError("INTEGRITY", "the backup holds no database");
      for (const f of manifest.files) if (!seen.has(f.name)) throw new CairnError("INTEGRITY", `the backup lacks ${f.name}`);
    } finally {
      closeSync(fd);
    }
    const facts = inspectDatabase(join(work, DB_FILE));
    if (facts.integrity !== "ok") throw new CairnError("INTEGRITY", `the restored database failed its integrity check: ${facts.integrity.slice(0, 200)}`);
    if (facts.schemaVersion > SUPPORTED_SCHEMA_VERSION)
      throw new CairnError(
        "CONFIG_INVALID",
        `the backup's database has schema version ${facts.schemaVersion}, newer than this build supports (${SUPPORTED_SCHEMA_VERSION}); restore it with a newer Cairn`,
      );
    for (const extra of ["-wal", "-shm", "-journal"]) rmSync(join(work, `${DB_FILE}${extra}`), { force: true });
    let replacedDir: string | null = null;
    if (existsSync(target)) {
      if (nonEmpty) {
        replacedDir = `${target}.replaced-${isoTime(clock.now()).replace(/[:.]/g, "-")}`;
        renameSync(target, replacedDir);
      } else rmSync(target, { recursive: true, force: true });
    }
    renameSync(work, target);
    chmodSync(target, 0o700);
    return { ...(manifest as BackupManifest), dataDir: target, replacedDir };
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    throw err;
  }
}

/** Reads the manifest of a backup without restoring it (checks the whole file). */
export function readBackupManifest(from: string, passphrase?: string): BackupManifest {
  const fd = openSync(from, "r");
  try {
    const r = new BackupReader(fd, passphrase);
    const first = r.nextFile();
    if (first === null || first.name !== "manifest.json") throw new CairnError("INTEGRITY", "the backup has no manifest");
    return JSON.parse(r.read(first.size).toString("utf8")) as BackupManifest;
  } finally {
    closeSync(fd);
  }
}
