/**
 * Installing a verified agent package. A package is a gzip'd tar of the agent's runnable tree
 * with `cairn-package.json` at its root: `{"name":"cairn-agent","version":"1.2.3",
 * "entry":"cli/bin/cairn.js"}` (packaging/make-agent-package.mjs builds one). Layout of the
 * installation folder (`upgrade.dir`, default /opt/cairn/agent):
 *
 *   versions/<version>/…     one unpacked package per version (the running one and the previous)
 *   current -> versions/<v>  the symlink the service runs (`<dir>/current/cli/bin/cairn.js`)
 *   downloads/               packages on their way in (removed once unpacked)
 *
 * Unpacking goes into a temporary folder renamed into place once `cairn-package.json` names the
 * offered version and its entry exists; switching `current` is one rename of a new symlink, so
 * a crash leaves either the old or the new version current, never a half-written tree.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync } from "node:fs";
import { isAbsolute, join, normalize } from "node:path";
import { promisify } from "node:util";
import { CairnError, checkPackageVersion } from "@cairn/protocol";

const run = promisify(execFile);

/** What `cairn-package.json` holds. */
export interface PackageManifest {
  name: "cairn-agent";
  version: string;
  /** The script the service runs with node, relative to the package root. */
  entry: string;
}

/** The folder of a version. */
export const versionDir = (dir: string, version: string) => join(dir, "versions", checkPackageVersion(version));

/** The version `current` points at, or null. */
export function currentVersion(dir: string): string | null {
  try {
    const target = readlinkSync(join(dir, "current"));
    const m = /(?:^|\/)versions\/([^/]+)\/?$/.exec(target);
    return m ? (m[1] as string) : null;
  } catch {
    return null;
  }
}

/** Reads and checks a package manifest. */
export function readManifest(root: string): PackageManifest {
  let m: PackageManifest;
  try {
    m = JSON.parse(readFileSync(join(root, "cairn-package.json"), "utf8")) as PackageManifest;
  } catch (cause) {
    throw new CairnError("PACKAGE_SIGNATURE_INVALID", "the package has no readable cairn-package.json", { cause });
  }
  const entry = typeof m.entry === "string" ? normalize(m.entry) : "";
  if (m.name !== "cairn-agent" || typeof m.version !== "string" || entry === "" || isAbsolute(entry) || entry.startsWith(".."))
    throw new CairnError("PACKAGE_SIGNATURE_INVALID", "the package's cairn-package.json is not an agent package manifest");
  if (!existsSync(join(root, entry)) || !statSync(join(root, entry)).isFile())
    throw new CairnError("PACKAGE_SIGNATURE_INVALID", `the package's entry ${entry} is missing`);
  return { ...m, entry };
}

/** Unpacks a verified package into `versions/<version>` (replacing an earlier unpack of it). */
export async function unpackPackage(dir: string, file: string, version: string): Promise<string> {
  const final = versionDir(dir, version);
  if (currentVersion(dir) === version) return final;
  mkdirSync(join(dir, "versions"), { recursive: true, mode: 0o755 });
  const tmp = join(dir, "versions", `.${version}.tmp-${randomBytes(4).toString("hex")}`);
  mkdirSync(tmp, { mode: 0o755 });
  try {
    await run("tar", ["-xzf", file, "-C", tmp, "--no-same-owner"], { maxBuffer: 1024 * 1024 });
    const m = readManifest(tmp);
    if (m.version !== version)
      throw new CairnError("PACKAGE_SIGNATURE_INVALID", `the package says it is version ${String(m.version).slice(0, 64)}, the offer said ${version}`);
    rmSync(final, { recursive: true, force: true });
    renameSync(tmp, final);
    return final;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (err instanceof CairnError) throw err;
    throw new CairnError("PACKAGE_SIGNATURE_INVALID", `the package does not unpack: ${(err as Error).message.slice(0, 200)}`, { cause: err });
  }
}

/** Points `current` at a version (one atomic rename) and keeps only it and the previous one. */
export function switchCurrent(dir: string, version: string): void {
  readManifest(versionDir(dir, version));
  const previous = currentVersion(dir);
  const link = join(dir, `.current.tmp-${randomBytes(4).toString("hex")}`);
  symlinkSync(join("versions", version), link);
  renameSync(link, join(dir, "current"));
  const keep = new Set([version, ...(previous ? [previous] : [])]);
  for (const v of readdirSync(join(dir, "versions")))
    if (!v.startsWith(".") && !keep.has(v)) rmSync(join(dir, "versions", v), { recursive: true, force: true });
}
