/**
 * Console sessions (docs/console.md, "Sessions"): sign in with username and password, plus a TOTP
 * code when the authority answers `TOTP_REQUIRED`; the authority sets an HttpOnly, Secure,
 * SameSite=Strict cookie and hands back the CSRF token that every POST, PUT and DELETE carries.
 */
import { signal } from "@preact/signals";
import { ApiError, csrfToken, del, get, post, sessionLost } from "./client.js";
import type { User } from "./types.js";

/** What the console may offer the signed-in user (every call is still checked by the authority). */
export interface ConsoleAccess {
  /** A role over every organization (an org admin's own org is otherwise the top of what they see). */
  allOrgs: boolean;
  /** Storage › Destinations, Servers, Store points. */
  storage: boolean;
  /** Settings › Organization (the system-wide defaults). */
  systemSettings: boolean;
  /** Settings › Audit log. */
  audit: boolean;
  /** Organizations, Users, Devices, Cold storage, Legal hold: a role that reads them somewhere. */
  orgs?: boolean;
  users?: boolean;
  devices?: boolean;
  coldStorage?: boolean;
  legalHold?: boolean;
  /** Organization edits: Create Organization, a new registration key, the reference. */
  orgUpdate?: boolean;
}

/** Whether a page of `a` is offered (an authority that does not say offers it). */
export function offered(a: ConsoleAccess, k: "orgs" | "users" | "devices" | "coldStorage" | "legalHold" | "orgUpdate"): boolean {
  return a[k] !== false;
}

/** What the session routes return. */
export interface SessionInfo {
  user: User;
  csrfToken: string;
  /** The org requires two-factor authentication and the user has not enrolled: the session may only enroll. */
  enrollOnly?: boolean;
  access?: ConsoleAccess;
}

const ALL_ACCESS: ConsoleAccess = { allOrgs: true, storage: true, systemSettings: true, audit: true };

/** What the signed-in user may be offered (everything when the authority does not say). */
export const access = signal<ConsoleAccess>(ALL_ACCESS);

/** True while the session may only enroll two-factor authentication. */
export const enrollOnly = signal(false);

/** The signed-in user; null when signed out; undefined while the console checks. */
export const currentUser = signal<User | null | undefined>(undefined);

function accept(s: SessionInfo): User {
  csrfToken.value = s.csrfToken;
  sessionLost.value = false;
  enrollOnly.value = s.enrollOnly === true;
  access.value = s.access ?? ALL_ACCESS;
  currentUser.value = s.user;
  return s.user;
}

/** Asks the authority for the current session (page load). */
export async function loadSession(): Promise<void> {
  try {
    accept(await get<SessionInfo>("/api/v1/session"));
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) throw e;
    currentUser.value = null;
  }
}

/** The outcome of a sign-in attempt. */
export type SignInResult = { ok: true } | { ok: false; totpRequired: boolean; message: string };

/** Signs in; `totp` is the six-digit code of the second step, when the authority asked for it. */
export async function signIn(username: string, password: string, totp: string | null): Promise<SignInResult> {
  try {
    accept(await post<SessionInfo>("/api/v1/session", { username, password, totp }, { allow401: true }));
    return { ok: true };
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    if (e.code === "TOTP_REQUIRED") return { ok: false, totpRequired: true, message: "Enter the code from your authenticator app." };
    if (e.code === "TOTP_INVALID") return { ok: false, totpRequired: true, message: "That code is not valid. Try the current one." };
    if (e.status === 401) return { ok: false, totpRequired: false, message: "The username or password is not correct." };
    if (e.status === 429) {
      // the authority says how long the lock-out lasts (up to 15 minutes)
      const m = /in (\d+) minutes?/.exec(e.message);
      return {
        ok: false,
        totpRequired: false,
        message: `Too many attempts. Try again in ${m ? `${m[1]} minute${m[1] === "1" ? "" : "s"}` : "a few minutes"}.`,
      };
    }
    return { ok: false, totpRequired: false, message: e.message };
  }
}

/** Signs out (the authority forgets the session and clears the cookie). */
export async function signOut(): Promise<void> {
  try {
    await del<void>("/api/v1/session", { allow401: true });
  } finally {
    csrfToken.value = null;
    enrollOnly.value = false;
    currentUser.value = null;
  }
}

/** What an enrolling user scans or types (the authority's TotpEnrollment). */
export interface TotpEnrollment {
  secret: string;
  otpauthUri: string;
  qrCodeDataUrl: string;
}

/** Starts two-factor enrollment for the signed-in user. */
export function beginTotp(): Promise<TotpEnrollment> {
  return post<TotpEnrollment>("/api/v1/totp");
}

/** A note for the sign-in screen (after enrolling, when the session must be opened again). */
export const signInNote = signal<string | null>(null);

/**
 * Confirms the enrollment with a code, then reloads the session; a session that still may only
 * enroll is closed, and the user signs in again with a code.
 */
export async function confirmTotp(code: string): Promise<void> {
  try {
    await post<void>("/api/v1/totp/verify", { code });
  } catch (e) {
    if (e instanceof ApiError && e.code === "TOTP_INVALID") throw new Error("That code is not valid. Enter the current code from your authenticator app.");
    throw e;
  }
  await loadSession();
  if (enrollOnly.value) {
    await signOut();
    signInNote.value = "Two-factor authentication is on. Sign in again with a code from your authenticator app.";
  }
}
