/** Restore-target file-system errors a person can act on, by errno: one code each, wherever they happen. */
export type TargetErrorCode = "TARGET_FULL" | "TARGET_NOT_WRITABLE";

/** TARGET_FULL for a full disk or quota, TARGET_NOT_WRITABLE for permissions and read-only file systems; null otherwise. */
export function targetErrorCode(errno: string | undefined): TargetErrorCode | null {
  if (errno === "ENOSPC" || errno === "EDQUOT") return "TARGET_FULL";
  if (errno === "EACCES" || errno === "EPERM" || errno === "EROFS") return "TARGET_NOT_WRITABLE";
  return null;
}
