/**
 * SQL for console sessions and API tokens (both stored as SHA-256 of the secret only).
 */
import type { ApiTokenRecord, SessionRecord } from "../records.js";
import type { AuthReads, AuthWrites } from "../store.js";
import { fromBool, type SqlRunner, toBool } from "./runner.js";

interface SessionRow {
  session_hash: string;
  user_id: number;
  csrf_hash: string;
  auth_version: number;
  enroll_only: number;
  source: string | null;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  revoked_at: number | null;
}

interface TokenRow {
  token_id: number;
  token_hash: string;
  user_id: number;
  name: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
}

const toToken = (r: TokenRow): ApiTokenRecord => ({
  tokenId: r.token_id,
  tokenHash: r.token_hash,
  userId: r.user_id,
  name: r.name,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});

/** Session and token queries on one connection. */
export class SqliteAuthQueries implements AuthReads, AuthWrites {
  constructor(private readonly q: SqlRunner) {}

  async getSession(sessionHash: string): Promise<SessionRecord | undefined> {
    const r = this.q.get<SessionRow>("SELECT * FROM sessions WHERE session_hash = ?", sessionHash);
    return (
      r && {
        sessionHash: r.session_hash,
        userId: r.user_id,
        csrfHash: r.csrf_hash,
        authVersion: r.auth_version,
        enrollOnly: toBool(r.enroll_only),
        source: r.source,
        createdAt: r.created_at,
        lastSeenAt: r.last_seen_at,
        expiresAt: r.expires_at,
        revokedAt: r.revoked_at,
      }
    );
  }

  async getApiTokenByHash(tokenHash: string): Promise<ApiTokenRecord | undefined> {
    const r = this.q.get<TokenRow>("SELECT * FROM api_tokens WHERE token_hash = ?", tokenHash);
    return r && toToken(r);
  }

  async listApiTokens(userId: number): Promise<ApiTokenRecord[]> {
    return this.q.all<TokenRow>("SELECT * FROM api_tokens WHERE user_id = ? ORDER BY token_id", userId).map(toToken);
  }

  async insertSession(s: SessionRecord): Promise<void> {
    this.q.run(
      "INSERT INTO sessions (session_hash, user_id, csrf_hash, auth_version, enroll_only, source, created_at, last_seen_at, expires_at, revoked_at) VALUES (@sessionHash, @userId, @csrfHash, @authVersion, @enrollOnly, @source, @createdAt, @lastSeenAt, @expiresAt, @revokedAt)",
      { ...s, enrollOnly: fromBool(s.enrollOnly) },
    );
    // expired sessions are worthless: drop them as new ones arrive
    this.q.run("DELETE FROM sessions WHERE expires_at < ?", s.createdAt - 86_400_000);
  }

  async touchSession(sessionHash: string, at: number, expiresAt: number): Promise<void> {
    this.q.run("UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE session_hash = ?", at, expiresAt, sessionHash);
  }

  async revokeSession(sessionHash: string, at: number): Promise<void> {
    this.q.run("UPDATE sessions SET revoked_at = ? WHERE session_hash = ? AND revoked_at IS NULL", at, sessionHash);
  }

  async revokeSessionsOf(userId: number, at: number): Promise<void> {
    this.q.run("UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", at, userId);
  }

  async clearSessionEnrollOnly(sessionHash: string): Promise<void> {
    this.q.run("UPDATE sessions SET enroll_only = 0 WHERE session_hash = ?", sessionHash);
  }

  async insertApiToken(t: Omit<ApiTokenRecord, "tokenId">): Promise<ApiTokenRecord> {
    const r = this.q.run(
      "INSERT INTO api_tokens (token_hash, user_id, name, created_at, expires_at, last_used_at, revoked_at) VALUES (@tokenHash, @userId, @name, @createdAt, @expiresAt, @lastUsedAt, @revokedAt)",
      { ...t },
    );
    return { ...t, tokenId: r.lastInsertRowid };
  }

  async revokeApiToken(tokenId: number, at: number): Promise<void> {
    this.q.run("UPDATE api_tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL", at, tokenId);
  }

  async touchApiToken(tokenId: number, at: number): Promise<void> {
    this.q.run("UPDATE api_tokens SET last_used_at = ? WHERE token_id = ?", at, tokenId);
  }
}
