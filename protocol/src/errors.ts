/**
 * The one error registry of Cairn. Every error that crosses a module, process or network
 * boundary carries a stable `code` from {@link ERROR_CODES}; the registry says what HTTP status,
 * WebSocket close code and CLI exit code it maps to and whether a retry can help.
 *
 * Codes are SCREAMING_SNAKE and never renamed (scripts and py42 match on them). The platform
 * names that py42 searches for in response bodies (API.md §1.6) are registered with the exact
 * status py42 expects, even where that status is odd (USER_DUPLICATE is a 500).
 *
 * `docs/errors.md` lists every code; a test keeps the two in step.
 */

/** How one error code maps onto the outside world. */
export interface ErrorSpec {
  /** HTTP status for REST responses. */
  readonly http: number;
  /** WebSocket close code when the error ends a socket (4000-4999 ours, 1008/1009/1011 standard). */
  readonly close: number;
  /** CLI exit code (DECISIONS.md: 0, 1, 2, 3, 10, 11, 12, 78, 130). */
  readonly exit: number;
  /** Whether repeating the same request later may succeed. */
  readonly retryable: boolean;
  /** One line for docs/errors.md. */
  readonly doc: string;
}

function spec(http: number, exit: number, retryable: boolean, doc: string, close?: number): ErrorSpec {
  return { http, exit, retryable, doc, close: close ?? (http >= 500 ? 4500 + (http - 500) : 4000 + http) };
}

/** Every error code Cairn uses. Add new codes here, and to docs/errors.md. */
export const ERROR_CODES = {
  // --- generic ---
  INTERNAL: spec(500, 1, false, "An unexpected internal error; details are logged, not sent.", 1011),
  SYSTEM: spec(500, 1, false, "Platform-compatible name for an unexpected server error.", 1011),
  BAD_REQUEST: spec(400, 1, false, "The request is malformed or a value is out of range."),
  USAGE: spec(400, 2, false, "Bad command-line usage: unknown flag, missing argument."),
  NOT_FOUND: spec(404, 10, false, "The object does not exist or the caller may not see it."),
  FORBIDDEN: spec(403, 1, false, "Authenticated, but not allowed to do this."),
  UNAUTHORIZED: spec(401, 12, false, "Not authenticated, or the credentials are no longer valid."),
  CONFLICT: spec(409, 1, true, "The object changed concurrently; retry."),
  RATE_LIMITED: spec(429, 1, true, "Too many requests; retry later."),
  PAYLOAD_TOO_LARGE: spec(413, 1, false, "The request body or frame is larger than allowed.", 1009),
  UNAVAILABLE: spec(503, 1, true, "The service is starting, stopping or temporarily unreachable.", 1013),
  TIMEOUT: spec(504, 1, true, "The operation did not finish in time."),
  CANCELLED: spec(499, 130, false, "The operation was cancelled (SIGINT or an abort signal).", 1001),
  CONFIG_INVALID: spec(500, 78, false, "A configuration file or option is invalid."),
  UNSUPPORTED: spec(501, 1, false, "The operation is not supported by this build or peer."),

  // --- protocol and transport ---
  PROTOCOL_MALFORMED: spec(400, 1, false, "A frame or message failed validation.", 1002),
  PROTOCOL_VERSION_UNSUPPORTED: spec(426, 1, false, "No protocol version in common with the peer.", 4426),
  PROTOCOL_UNEXPECTED: spec(400, 1, false, "A valid message arrived in a state where it is not allowed.", 1008),
  FRAME_TOO_LARGE: spec(413, 1, false, "A frame exceeds the channel's size limit.", 1009),
  CONNECTION_LOST: spec(503, 1, true, "The connection closed before the reply arrived.", 1006),
  TLS_FINGERPRINT_MISMATCH: spec(495, 12, false, "The server's certificate does not match the pinned fingerprint.", 1015),

  // --- tokens and credentials ---
  TOKEN_INVALID: spec(401, 12, false, "A signed token is malformed or its signature does not verify."),
  TOKEN_EXPIRED: spec(401, 12, true, "A signed token has expired; renew it."),
  TOKEN_REVOKED: spec(401, 12, false, "The device or user behind the token was deauthorized, blocked or deactivated."),
  INVALID_CREDENTIALS: spec(401, 12, false, "Username or password is wrong."),
  TOTP_REQUIRED: spec(401, 12, false, "Two-factor authentication is required: send a TOTP code."),
  TOTP_INVALID: spec(401, 12, false, "The TOTP code is wrong, expired or already used."),
  REGISTRATION_KEY_INVALID: spec(401, 12, false, "The registration key is unknown or revoked."),
  ENROLL_KEY_INVALID: spec(401, 12, false, "The server enrollment key is unknown, used or expired."),
  PROVIDER_KEY_INVALID: spec(400, 12, false, "The provider key is malformed, used or refused by the provider."),
  NOT_REGISTERED: spec(401, 10, false, "This agent is not registered with an authority."),
  DEVICE_DEAUTHORIZED: spec(401, 12, false, "The device was deauthorized; sign in again."),
  USER_BLOCKED: spec(401, 12, false, "The user or the user's organization is blocked."),

  // --- crypto and integrity ---
  DECRYPT_FAILED: spec(500, 1, false, "Authenticated decryption failed: wrong key or tampered data."),
  INTEGRITY: spec(500, 1, false, "Stored data failed its integrity check (hash, length or id)."),
  ROLLBACK_DETECTED: spec(409, 1, false, "The storage side served an older or forked version chain."),
  PACKAGE_SIGNATURE_INVALID: spec(403, 1, false, "An agent package is unsigned, altered, or not signed by the package key the agent trusts."),
  KEY_POLICY_DOWNGRADE: spec(403, 1, false, "An encryption key policy can be raised, never lowered."),
  PRIVATE_PASSWORD_INVALID: spec(500, 12, false, "The archive password is missing or wrong."),
  CUSTOM_KEY_INVALID: spec(500, 12, false, "The custom encryption key is missing or wrong."),

  // --- storage node ---
  ARCHIVE_IN_USE: spec(409, 11, true, "Another writer holds the archive's lease."),
  LOCKED: spec(409, 11, true, "Another process holds the lock: a backup or restore on this device, or a daemon serving the same data folder."),
  BLOCKS_MISSING: spec(409, 1, false, "A commit references blocks the archive does not hold."),
  DESTINATION_FULL: spec(507, 1, true, "The store point is out of space; nothing was lost.", 4507),
  QUOTA_EXCEEDED: spec(507, 1, false, "The archive's user or organization quota is used up.", 4507),
  STORE_IO: spec(500, 1, true, "A store point read or write failed."),
  STORE_INCONSISTENT: spec(500, 1, false, "The store is inconsistent (referenced blocks missing); maintenance refused."),
  CLOCK_WENT_BACKWARDS: spec(500, 1, true, "The server clock is earlier than the last recorded maintenance; refusing."),
  ARCHIVE_COLD: spec(409, 1, false, "The archive is in cold storage: no new backups."),

  // --- authority (platform API names, API.md §1.6) ---
  STORAGE_FULL: spec(507, 1, true, "The authority database is full; nothing was changed."),
  USER_DUPLICATE: spec(500, 1, false, "A user with that username already exists."),
  USERNAME_NOT_AN_EMAIL: spec(500, 1, false, "The organization requires usernames to be email addresses."),
  EMAIL_INVALID: spec(500, 1, false, "The email address is invalid."),
  NEW_PASSWORD_INVALID: spec(500, 1, false, "The password does not meet the rules (at least 8 characters)."),
  INVALID_USERNAME: spec(500, 1, false, "The username is invalid."),
  ORG_NOT_FOUND: spec(400, 10, false, "Organization was not found."),
  ORG_DEACTIVATED: spec(400, 1, false, "The organization is deactivated and accepts no new users or children."),
  ORG_NAME_INVALID: spec(400, 1, false, "Organization names have 3 to 220 characters."),
  ORG_MOVE_INVALID: spec(400, 1, false, "The top-level organization cannot move, and no organization moves under its own descendant."),
  ORG_TOP_LEVEL: spec(400, 1, false, "The top-level organization cannot be deactivated or moved."),
  SETTING_LOCKED: spec(400, 1, false, "The setting is locked by an ancestor organization."),
  MAX_SEATS_EXCEEDS_PARENT: spec(400, 1, false, "A child's maximum user subscriptions cannot exceed its parent's."),
  SEATS_EXHAUSTED: spec(403, 1, false, "The organization's maximum user subscriptions are used up."),
  ROLE_NOT_FOUND: spec(400, 1, false, "No role has that name."),
  ACTIVE_LEGAL_HOLD: spec(400, 1, false, "The user is a custodian on an active legal hold."),
  USER_ALREADY_IN_HOLD: spec(400, 1, false, "The user is already an active custodian of this matter."),
  LEGAL_HOLD_CRITERIA_MISSING: spec(400, 1, false, "At least one criteria must be specified."),
  WEB_RESTORE_DISABLED: spec(403, 1, false, "Zip (web) restores are disabled for this organization."),
  WEB_RESTORE_LIMIT_EXCEEDED: spec(400, 1, false, "The selection is larger than the web restore limit."),
  PROVIDER_RESTORE_FORBIDDEN: spec(403, 1, false, "The primary administrator may not restore from a provider destination."),
  CREATE_FAILED: spec(400, 1, false, "The restore could not be created (bad combination or target offline)."),
  RESTORE_FAILED: spec(500, 1, false, "The restore job failed."),
  LOCAL_DISK_FULL: spec(507, 1, true, "The disk holding the agent's data folder is full: the backup stopped; versions already committed are intact.", 4518),
  FILE_SYSTEM: spec(500, 1, false, "A file or folder could not be created or written (permissions, a read-only file system, a full disk)."),
  TARGET_FULL: spec(
    507,
    1,
    false,
    "The restore target's disk is full: the files restored are complete, the rest were not written, no existing file was replaced.",
    4517,
  ),
  TARGET_NOT_WRITABLE: spec(403, 1, false, "The restore target may not be written (permissions or a read-only file system)."),
  DEVICE_NOT_CONNECTED: spec(409, 1, true, "The target device is offline."),
  SELECTION_LOCKED: spec(403, 1, false, "The organization locks the file selection."),
  PARTIAL: spec(200, 3, false, "Backup finished, but some files could not be read."),
  UNSAFE_PATH: spec(400, 1, false, "A restore entry's path is unsafe (absolute escape, '..', NUL, or through a symlink) and was skipped."),
} as const satisfies Record<string, ErrorSpec>;

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Is `code` a registered error code? */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERROR_CODES, code);
}

/** Structured, secret-free context for an error. */
export type ErrorDetails = Readonly<Record<string, unknown>>;

/**
 * The one error type of Cairn. `message` is safe to show to a user; `details` is structured and
 * never holds secrets; `cause` keeps the underlying error for logs.
 */
export class CairnError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails | undefined;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; details?: ErrorDetails }) {
    super(message ?? ERROR_CODES[code].doc, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CairnError";
    this.code = code;
    this.details = options?.details;
  }

  /** The registry entry of this error's code. */
  get spec(): ErrorSpec {
    return ERROR_CODES[this.code];
  }

  /** The shape sent over the wire: code, message and details, never the cause or stack. */
  toWire(): WireError {
    const w: WireError = { code: this.code, message: this.message };
    if (this.details !== undefined) w.details = this.details;
    return w;
  }
}

/** An error as it travels in a protocol message. */
export interface WireError {
  code: string;
  message: string;
  details?: unknown;
}

/** True when `err` is a CairnError, optionally with the given code. Survives module duplication. */
export function isCairnError(err: unknown, code?: ErrorCode): err is CairnError {
  if (typeof err !== "object" || err === null) return false;
  const c = (err as { code?: unknown }).code;
  if (!(err instanceof Error) || !isErrorCode(c) || (err as { name?: unknown }).name !== "CairnError") return false;
  return code === undefined || c === code;
}

/** Rebuilds a CairnError from its wire shape; unknown codes become INTERNAL. */
export function fromWire(w: WireError): CairnError {
  const code = isErrorCode(w.code) ? w.code : "INTERNAL";
  const details = typeof w.details === "object" && w.details !== null && !Array.isArray(w.details) ? (w.details as ErrorDetails) : undefined;
  return new CairnError(code, w.message, details === undefined ? undefined : { details });
}

/**
 * Wraps any thrown value into a CairnError. A CairnError passes through; anything else becomes
 * `fallback` (INTERNAL by default) with the original as `cause`.
 */
export function toCairnError(err: unknown, fallback: ErrorCode = "INTERNAL", message?: string): CairnError {
  if (isCairnError(err)) return err;
  return new CairnError(fallback, message ?? ERROR_CODES[fallback].doc, { cause: err });
}

/** The CLI exit code for any thrown value (the one place that maps errors to exit codes). */
export function exitCodeFor(err: unknown): number {
  if (isCairnError(err)) return err.spec.exit;
  return 1;
}

/** Exit codes of the `cairn` command (DECISIONS.md). */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  PARTIAL: 3,
  NOT_REGISTERED: 10,
  LOCKED: 11,
  AUTH_FAILED: 12,
  /** `agent serve` only: an upgrade is installed; the service manager starts the new version (EX_TEMPFAIL). */
  RESTART_TO_UPGRADE: 75,
  CONFIG: 78,
  INTERRUPTED: 130,
} as const;
