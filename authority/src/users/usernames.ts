/**
 * Username rules: unique case-insensitively (API.md §3), 1 to 200 characters, no control
 * characters or path separators (T33).
 */
import { CairnError } from "@cairn/protocol";
import { isEmail } from "../settings/parse.js";

/** Longest username. */
export const MAX_USERNAME_CHARS = 200;

/** The comparison key of a username: NFC, trimmed, lower case. */
export function usernameKey(username: string): string {
  return username.normalize("NFC").trim().toLowerCase();
}

/** Trims and checks a username; throws INVALID_USERNAME or USERNAME_NOT_AN_EMAIL. */
export function validateUsername(v: unknown, mustBeEmail: boolean): string {
  if (typeof v !== "string") throw new CairnError("INVALID_USERNAME", "INVALID_USERNAME: a username is required");
  const u = v.normalize("NFC").trim();
  if (u.length < 1 || u.length > MAX_USERNAME_CHARS || /[\u0000-\u001f\u007f/\\]/.test(u)) {
    throw new CairnError("INVALID_USERNAME", "INVALID_USERNAME: usernames have 1 to 200 characters, without control characters, / or \\");
  }
  if (mustBeEmail && !isEmail(u))
    throw new CairnError("USERNAME_NOT_AN_EMAIL", "USERNAME_NOT_AN_EMAIL: this organization requires usernames to be email addresses");
  return u;
}

/** Checks an optional email; throws EMAIL_INVALID. */
export function validateEmail(v: unknown): string | null {
  if (v === null || v === undefined || v === "") return null;
  if (typeof v !== "string" || !isEmail(v.trim())) throw new CairnError("EMAIL_INVALID", "EMAIL_INVALID: the email address is invalid");
  return v.trim();
}
