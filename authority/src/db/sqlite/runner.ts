/**
 * Prepared statements over one connection, cached by their SQL text. Every query in `db/sqlite/`
 * goes through here: SQL is always a constant string with bound parameters (a test fails CI when
 * a template literal with `${` holds SQL), and SQLite's errors are mapped once.
 */
import type Database from "better-sqlite3";
import { CairnError } from "@cairn/protocol";
import { isSqliteFull, type SqliteDb } from "../open.js";

/** Bound parameters: positional values or one object of named ones. */
export type Params = readonly unknown[] | [Record<string, unknown>];

/** Maps SQLite failures onto error codes: a full database is STORAGE_FULL (T06). */
export function mapDbError(err: unknown): unknown {
  if (isSqliteFull(err)) return new CairnError("STORAGE_FULL", "the authority database is full; nothing was changed", { cause: err });
  return err;
}

/** Runs cached prepared statements on one connection. */
export class SqlRunner {
  private readonly cache = new Map<string, Database.Statement>();

  constructor(readonly db: SqliteDb) {}

  private stmt(sql: string): Database.Statement {
    let s = this.cache.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.cache.set(sql, s);
    }
    return s;
  }

  /** First row, or undefined. */
  get<T>(sql: string, ...params: Params): T | undefined {
    try {
      return this.stmt(sql).get(...params) as T | undefined;
    } catch (err) {
      throw mapDbError(err);
    }
  }

  /** All rows. */
  all<T>(sql: string, ...params: Params): T[] {
    try {
      return this.stmt(sql).all(...params) as T[];
    } catch (err) {
      throw mapDbError(err);
    }
  }

  /** Runs a write; returns the changed row count and last rowid. */
  run(sql: string, ...params: Params): { changes: number; lastInsertRowid: number } {
    try {
      const r = this.stmt(sql).run(...params);
      return { changes: r.changes, lastInsertRowid: Number(r.lastInsertRowid) };
    } catch (err) {
      throw mapDbError(err);
    }
  }
}

/** 0/1 → boolean. */
export const toBool = (v: unknown): boolean => v === 1 || v === 1n;

/** boolean → 0/1. */
export const fromBool = (v: boolean): 0 | 1 => (v ? 1 : 0);

/** The `[lo, hi)` text range of every path below (and including) `path`, which ends with `/`. */
export function subtreeRange(path: string): { lo: string; hi: string } {
  // '/' (0x2F) sorts just before '0' (0x30): every string starting with "/1/5/" lies in
  // ["/1/5/", "/1/50"), and "/1/50/" (another org) does not.
  return { lo: path, hi: `${path.slice(0, -1)}0` };
}

/** Named parameters that restrict a query to an {@link OrgScope}-like range. */
export function scopeParams(scope: { kind: "all" } | { kind: "subtree"; path: string } | { kind: "org"; orgId: number } | { kind: "none" }): {
  lo: string;
  hi: string;
  scopeOrgId: number | null;
} {
  switch (scope.kind) {
    case "all":
      return { lo: "/", hi: "0", scopeOrgId: null };
    case "subtree":
      return { ...subtreeRange(scope.path), scopeOrgId: null };
    case "org":
      return { lo: "/", hi: "0", scopeOrgId: scope.orgId };
    case "none":
      // an empty range
      return { lo: "1", hi: "1", scopeOrgId: null };
  }
}

/** A LIKE pattern for a case-insensitive substring, with `\` escaping the wildcards. */
export function likeSubstring(q: string): string {
  return `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** JSON array text of ids, for `json_each(?)` (a bound parameter, never SQL text). */
export function idList(ids: readonly number[]): string {
  return JSON.stringify(ids.filter((i) => Number.isSafeInteger(i)));
}
