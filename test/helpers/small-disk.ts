/**
 * A small disk for full-disk tests: a tmpfs of the given size mounted on `dir`, when this process
 * may mount one (root on Linux, as in CI). Returns null otherwise, and the test that needs it is
 * skipped with that reason.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";

export function smallDisk(dir: string, size: string): string | null {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "ignore" });
    return dir;
  } catch {
    return null;
  }
}

/** Gives the mounted disk a new size (files on it stay). */
export function resizeDisk(dir: string, size: string): void {
  execFileSync("mount", ["-o", `remount,size=${size}`, dir], { stdio: "ignore" });
}

export function unmount(dir: string): void {
  execFileSync("umount", [dir], { stdio: "ignore" });
}
