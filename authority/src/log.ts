/**
 * The authority's log redaction: what never appears in its logs (passwords, tokens, cookies,
 * TOTP codes, keys). The command line builds the root logger with it; tests check it.
 */

/** pino `redact` paths. */
export const LOG_REDACT_PATHS: readonly string[] = [
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["totp-auth"]',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  "*.password",
  "*.adminPassword",
  "*.token",
  "*.secret",
  "*.cookie",
  "*.authorization",
  "*.csrfToken",
  // archive secrets a restore session carries (T21, DECISIONS.md "Keys and restores")
  "*.privatePassword",
  "*.encryptionKey",
];
