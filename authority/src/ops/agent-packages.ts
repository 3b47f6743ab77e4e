/**
 * Agent packages the authority offers for upgrades, and the key it signs them with.
 *
 * - The package-signing key (Ed25519, separate from the token-signing key) lives in
 *   `<data>/keys/package-signing.json` (0600), made on first use (`serve` makes it at start, so
 *   agents can pin it before the first package exists).
 * - `cairn authority agent-package add FILE --version V` copies the file into
 *   `<data>/packages/<V>/package.tar.gz` and writes `<data>/packages/<V>/package.json`:
 *   `{version, sha256, size, signature, keyId, fileName, addedAt}`, where `signature` signs the
 *   protocol's statement of version and SHA-256 (`agentPackageStatement`).
 *
 * Files only (no database rows), so `add` works while `serve` runs and the authority's backup
 * carries packages as they are. The package format itself is documented in docs/operations.md.
 */
import { createHash, randomBytes } from "node:crypto";
import { copyFileSync, createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import {
  CairnError,
  type Clock,
  checkPackageVersion,
  compareVersions,
  exportSigningKey,
  generateSigningKey,
  importSigningKey,
  packageKeyText,
  type SigningKey,
  signAgentPackage,
  systemClock,
} from "@cairn/protocol";
import { keysDir, writeSecretFile } from "../keys/authority-keys.js";

/** The key file under `<data>/keys/`. */
export const PACKAGE_KEY_FILE = "package-signing.json";
/** The packages folder of a data directory. */
export const PACKAGES_DIR = "packages";
/** The package file inside a version's folder. */
export const PACKAGE_FILE = "package.tar.gz";

/** One imported package. */
export interface AgentPackage {
  version: string;
  /** SHA-256 of the file, lowercase hex. */
  sha256: string;
  size: number;
  /** base64url Ed25519 signature of the protocol's package statement. */
  signature: string;
  /** The signing key's id. */
  keyId: string;
  /** The name of the imported file. */
  fileName: string;
  addedAt: number;
}

/** The package-signing key of a data directory, made (0600) when absent. */
export function packageSigningKey(dataDir: string): SigningKey {
  const file = join(keysDir(dataDir), PACKAGE_KEY_FILE);
  if (existsSync(file)) {
    try {
      return importSigningKey(JSON.parse(readFileSync(file, "utf8")) as { kid: string; privateKey: string });
    } catch (cause) {
      throw new CairnError("CONFIG_INVALID", `the package-signing key ${file} cannot be read`, { cause });
    }
  }
  const k = generateSigningKey();
  writeSecretFile(file, `${JSON.stringify(exportSigningKey(k), null, 2)}\n`);
  return k;
}

/** The public half as agents pin it (43 base64url characters) with its key id. */
export function packagePublicKey(dataDir: string): { keyId: string; publicKey: string } {
  const k = packageSigningKey(dataDir);
  return { keyId: k.kid, publicKey: packageKeyText(k.publicKey) };
}

function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    createReadStream(file)
      .on("data", (c) => h.update(c))
      .on("error", reject)
      .on("end", () => resolve(h.digest("hex")));
  });
}

const folderOf = (dataDir: string, version: string) => join(dataDir, PACKAGES_DIR, checkPackageVersion(version));

/** Options of {@link addAgentPackage}. */
export interface AddAgentPackageOptions {
  dataDir: string;
  /** The package file (a .tar.gz of the agent's runnable tree). */
  file: string;
  version: string;
  clock?: Clock;
}

/** Imports and signs a package; CONFLICT when the version exists already. */
export async function addAgentPackage(o: AddAgentPackageOptions): Promise<AgentPackage> {
  const version = checkPackageVersion(o.version);
  if (!existsSync(join(o.dataDir, "authority.db"))) throw new CairnError("NOT_FOUND", `no authority in ${o.dataDir}`);
  let size: number;
  try {
    const st = statSync(o.file);
    if (!st.isFile()) throw new Error("not a file");
    size = st.size;
  } catch (cause) {
    throw new CairnError("NOT_FOUND", `cannot read the package file ${o.file}`, { cause });
  }
  const dir = folderOf(o.dataDir, version);
  if (existsSync(join(dir, "package.json"))) throw new CairnError("CONFLICT", `agent package ${version} exists already (remove it first)`);
  const key = packageSigningKey(o.dataDir);
  mkdirSync(join(o.dataDir, PACKAGES_DIR), { recursive: true, mode: 0o700 });
  const tmp = join(o.dataDir, PACKAGES_DIR, `.${version}.${randomBytes(4).toString("hex")}.tmp`);
  mkdirSync(tmp, { mode: 0o700 });
  try {
    copyFileSync(o.file, join(tmp, PACKAGE_FILE));
    const sha256 = await sha256File(join(tmp, PACKAGE_FILE));
    const pkg: AgentPackage = {
      version,
      sha256,
      size,
      signature: signAgentPackage(key.privateKey, version, sha256),
      keyId: key.kid,
      fileName: basename(o.file),
      addedAt: (o.clock ?? systemClock).now(),
    };
    writeSecretFile(join(tmp, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    return pkg;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Every imported package, oldest version first. */
export function listAgentPackages(dataDir: string): AgentPackage[] {
  const root = join(dataDir, PACKAGES_DIR);
  if (!existsSync(root)) return [];
  const out: AgentPackage[] = [];
  for (const name of readdirSync(root)) {
    if (name.startsWith(".")) continue;
    try {
      const pkg = JSON.parse(readFileSync(join(root, name, "package.json"), "utf8")) as AgentPackage;
      if (pkg.version === name) out.push(pkg);
    } catch {
      // a folder without a readable manifest is not a package
    }
  }
  return out.sort((a, b) => compareVersions(a.version, b.version));
}

/** One package (NOT_FOUND when absent). */
export function getAgentPackage(dataDir: string, version: string): AgentPackage & { path: string } {
  const p = listAgentPackages(dataDir).find((x) => x.version === version);
  if (p === undefined) throw new CairnError("NOT_FOUND", `no agent package ${version.slice(0, 64)}`);
  return { ...p, path: join(folderOf(dataDir, version), PACKAGE_FILE) };
}

/** Removes a package (NOT_FOUND when absent). */
export function removeAgentPackage(dataDir: string, version: string): void {
  getAgentPackage(dataDir, version);
  rmSync(folderOf(dataDir, version), { recursive: true, force: true });
}
