/**
 * Helpers for tests through the real HTTPS listener: tokens for users, creating orgs and users
 * through the API, and rows of the device and storage tables (which those parts fill) written
 * straight into the database file.
 */
import { join } from "node:path";
import Database from "better-sqlite3";
import { expect } from "vitest";
import type { HttpAnswer, RequestOptions, TestAuthority } from "../src/testing.js";

/** A signed-in caller. */
export interface Caller {
  username: string;
  token: string;
  userId: number;
  userUid: string;
  get(path: string): Promise<HttpAnswer>;
  send(method: string, path: string, body?: unknown, o?: RequestOptions): Promise<HttpAnswer>;
}

/** Fetches a JWT for a user. */
export async function tokenFor(a: TestAuthority, username: string, password: string, totp?: string): Promise<string> {
  const r = await a.client.request("GET", "/c42api/v3/auth/jwt?useBody=True", {
    basic: [username, password],
    ...(totp ? { headers: { "totp-auth": totp } } : {}),
  });
  expect(r.status, r.text).toBe(200);
  return (r.json as { data: { v3_user_token: string } }).data.v3_user_token;
}

/** A caller signed in with a JWT. */
export async function caller(a: TestAuthority, username: string, password: string): Promise<Caller> {
  const token = await tokenFor(a, username, password);
  const me = await a.client.request("GET", "/api/User/my", { bearer: token });
  const u = (me.json as { data: { userId: number; userUid: string } }).data;
  return {
    username,
    token,
    userId: u.userId,
    userUid: u.userUid,
    get: (path) => a.client.request("GET", path, { bearer: token }),
    send: (method, path, body, o = {}) => a.client.request(method, path, { bearer: token, ...(body !== undefined ? { body } : {}), ...o }),
  };
}

/** `data` of a 200 answer (fails the test otherwise). */
export function dataOf<T = Record<string, unknown>>(r: HttpAnswer): T {
  expect(r.status, r.text).toBe(200);
  return (r.json as { data: T }).data;
}

/** The error name of a failed answer. */
export function errorName(r: HttpAnswer): string | undefined {
  return Array.isArray(r.json) ? (r.json[0] as { name?: string } | undefined)?.name : undefined;
}

/** Creates an org through the API as `by`. */
export async function createOrg(by: Caller, name: string, parentOrgUid: string | null): Promise<{ orgId: number; orgUid: string; registrationKey: string }> {
  return dataOf(await by.send("POST", "/api/Org/", { orgName: name, orgExtRef: null, notes: null, parentOrgUid }));
}

/** Creates a user through the API as `by`, and grants roles. */
export async function createUser(
  by: Caller,
  orgUid: string,
  username: string,
  roles: string[] = [],
  password = "password123",
): Promise<{ userId: number; userUid: string }> {
  const u = dataOf<{ userId: number; userUid: string }>(
    await by.send("POST", "/api/User", { orgUid, username, email: null, password, firstName: null, lastName: null, notes: null }),
  );
  for (const roleName of roles) dataOf(await by.send("POST", "/api/UserRole", { userId: u.userId, roleName }));
  return u;
}

/** Writes rows into the tables the devices and storage parts own (tests only). */
export class PartBRows {
  private readonly db: Database.Database;
  private n = 0;

  constructor(a: TestAuthority) {
    this.db = new Database(join(a.dataDir, "authority.db"));
    this.db.pragma("busy_timeout = 5000");
    this.db.pragma("foreign_keys = ON");
  }

  private guid(prefix: string): string {
    this.n++;
    return `${prefix}${String(this.n).padStart(17 - prefix.length + 1, "0")}`.slice(0, 18);
  }

  destination(name: string): { destinationId: number; guid: string } {
    const guid = this.guid("63");
    const r = this.db
      .prepare("INSERT INTO destinations (destination_guid, name, kind, created_at, modified_at) VALUES (?, ?, 'cluster', 1, 1)")
      .run(guid, name);
    return { destinationId: Number(r.lastInsertRowid), guid };
  }

  device(userId: number, name: string, createdAt: number): { deviceId: number; guid: string } {
    const guid = this.guid("95");
    const r = this.db
      .prepare("INSERT INTO devices (device_guid, user_id, name, os_hostname, os_name, created_at, modified_at) VALUES (?, ?, ?, ?, 'linux', ?, ?)")
      .run(guid, userId, name, name, createdAt, createdAt);
    return { deviceId: Number(r.lastInsertRowid), guid };
  }

  archive(
    deviceId: number,
    userId: number,
    destinationId: number,
    figures: { selectedFiles: number; selectedBytes: number; todoFiles: number; todoBytes: number; archiveBytes: number; lastCompleted: number | null },
  ): number {
    const r = this.db
      .prepare(
        "INSERT INTO archives (archive_guid, device_id, destination_id, user_id, selected_files, selected_bytes, todo_files, todo_bytes, archive_bytes, last_completed_backup_at, created_at, modified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 1)",
      )
      .run(
        this.guid("97"),
        deviceId,
        destinationId,
        userId,
        figures.selectedFiles,
        figures.selectedBytes,
        figures.todoFiles,
        figures.todoBytes,
        figures.archiveBytes,
        figures.lastCompleted,
      );
    return Number(r.lastInsertRowid);
  }

  coldRows(): { archiveId: number; holdExpireDate: string; cause: string; causeId: number }[] {
    return (
      this.db.prepare("SELECT archive_id, hold_expire_date, cause, cause_id FROM cold_storage ORDER BY archive_id").all() as {
        archive_id: number;
        hold_expire_date: string;
        cause: string;
        cause_id: number;
      }[]
    ).map((r) => ({ archiveId: r.archive_id, holdExpireDate: r.hold_expire_date, cause: r.cause, causeId: r.cause_id }));
  }

  deviceActive(deviceId: number): boolean {
    return (this.db.prepare("SELECT active FROM devices WHERE device_id = ?").get(deviceId) as { active: number }).active === 1;
  }

  revocationsFor(guid: string): { kind: string; scope: string }[] {
    return this.db.prepare("SELECT kind, scope FROM revocations WHERE guid = ? ORDER BY revocation_id").all(guid) as { kind: string; scope: string }[];
  }

  count(table: "cold_storage" | "devices" | "orgs" | "users" | "audit_log" | "user_roles"): number {
    const sql: Record<string, string> = {
      cold_storage: "SELECT count(*) AS n FROM cold_storage",
      devices: "SELECT count(*) AS n FROM devices WHERE active = 1",
      orgs: "SELECT count(*) AS n FROM orgs",
      users: "SELECT count(*) AS n FROM users",
      audit_log: "SELECT count(*) AS n FROM audit_log",
      user_roles: "SELECT count(*) AS n FROM user_roles",
    };
    return (this.db.prepare(sql[table] as string).get() as { n: number }).n;
  }

  close(): void {
    this.db.close();
  }
}
