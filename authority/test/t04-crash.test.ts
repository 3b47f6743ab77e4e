/**
 * T04: kill -9 of the authority in the middle of a multi-row transaction (child process, crash
 * points inside create-org, grant-role, deactivate-user, deactivate-org, register-device and the
 * start of a cold-storage purge). After the restart `integrity_check` is ok, each operation is
 * all or nothing (no org or role without its audit row, no device without its token and audit
 * row, no purge without its audit row), and a transaction committed before the kill survives
 * (synchronous=FULL); an interrupted registration or purge can simply be run again.
 *
 * Runs the compiled package (`npx tsc -b` first, as for every cross-package test).
 */
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import Database from "better-sqlite3";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ManualClock } from "@cairn/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_ARGON2 } from "../src/auth/passwords.js";
import { SYSTEM_PRINCIPAL } from "../src/auth/access.js";
import { openSqliteStore } from "../src/db/sqlite-store.js";
import { initAuthority, operationsOf, startAuthority } from "../src/index.js";
import type { AuthorityStore } from "../src/db/store.js";
import { tempDir } from "./helpers.js";

const CHILD = join(import.meta.dirname, "fixtures", "crash-child.mjs");

function runChild(dataDir: string, crashAt: string, op: string, arg = ""): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dataDir, crashAt, op, arg], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve({ code, signal, out }));
  });
}

async function prepare(): Promise<string> {
  const dataDir = join(mkdtempSync(join(tmpdir(), "cairn-t04-")), "data");
  await initAuthority({ dataDir, adminUsername: "admin@example.com", adminPassword: "admin password 1", argon2: TEST_ARGON2 });
  const a = await startAuthority({ dataDir, host: "127.0.0.1", port: 0, argon2: TEST_ARGON2 });
  const dept = await a.ctx.orgs.create(SYSTEM_PRINCIPAL, { orgName: "Crash dept" });
  await a.ctx.orgs.create(SYSTEM_PRINCIPAL, { orgName: "Crash team", parentOrgUid: dept.orgUid });
  const victim = await a.ctx.users.create(SYSTEM_PRINCIPAL, { orgUid: dept.orgUid, username: "victim@example.com", password: "password123" });
  await a.close();
  // an older device of the victim whose archive sits in cold storage, due for purging
  const db = new Database(join(dataDir, "authority.db"));
  try {
    const dest = db
      .prepare("INSERT INTO destinations (destination_guid, name, kind, created_at, modified_at) VALUES ('630000000000000001', 'Crash dest', 'cluster', 1, 1)")
      .run();
    const dev = db
      .prepare(
        "INSERT INTO devices (device_guid, user_id, name, os_hostname, os_name, active, created_at, modified_at) VALUES ('950000000000000001', ?, 'old-laptop', 'old', 'linux', 0, 1, 1)",
      )
      .run(victim.userId);
    const arc = db
      .prepare(
        "INSERT INTO archives (archive_guid, device_id, destination_id, user_id, wrapped_archive_key, created_at, modified_at) VALUES (?, ?, ?, ?, ?, 1, 1)",
      )
      .run(ARCHIVE_GUID, dev.lastInsertRowid, dest.lastInsertRowid, victim.userId, Buffer.alloc(61, 7));
    db.prepare("INSERT INTO cold_storage (archive_id, entered_at, hold_expire_date, cause, cause_id) VALUES (?, 1, '2020-01-01', 'device', ?)").run(
      arc.lastInsertRowid,
      dev.lastInsertRowid,
    );
  } finally {
    db.close();
  }
  return dataDir;
}

const ARCHIVE_GUID = "970000000000000001";

/** The rows a registration or a purge writes, read straight from the file. */
function rows(dataDir: string) {
  const db = new Database(join(dataDir, "authority.db"), { readonly: true, fileMustExist: true });
  try {
    const n = (sql: string, ...args: unknown[]) => (db.prepare(sql).get(...args) as { n: number }).n;
    return {
      devices: (db.prepare("SELECT name FROM devices ORDER BY device_id").all() as { name: string }[]).map((r) => r.name),
      deviceTokens: n("SELECT count(*) AS n FROM device_tokens"),
      userKeys: n("SELECT count(*) AS n FROM user_keys"),
      archive: db.prepare("SELECT purged_at, wrapped_archive_key FROM archives WHERE archive_guid = ?").get(ARCHIVE_GUID) as {
        purged_at: number | null;
        wrapped_archive_key: Buffer | null;
      },
      cold: n("SELECT count(*) AS n FROM cold_storage"),
      registerAudits: n("SELECT count(*) AS n FROM audit_log WHERE action = 'device.register'"),
      purgeAudits: n("SELECT count(*) AS n FROM audit_log WHERE action = 'coldstorage.purge'"),
    };
  } finally {
    db.close();
  }
}

async function withStore<T>(dataDir: string, fn: (s: AuthorityStore) => Promise<T>): Promise<T> {
  const s = openSqliteStore({ file: join(dataDir, "authority.db"), clock: new ManualClock() });
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

async function auditCount(s: AuthorityStore, action?: string): Promise<number> {
  return (await s.listAudit({ scope: { kind: "all" }, ...(action ? { action } : {}) }, { offset: 0, limit: 1 })).total;
}

let base: string;
beforeAll(async () => {
  base = await prepare();
});
afterAll(() => {
  rmSync(dirname(base), { recursive: true, force: true });
});

describe("T04: kill -9 mid-transaction", () => {
  it.each([
    ["org.create.afterInsert", "org.create"],
    ["user.role.afterGrant", "role.grant"],
    ["user.deactivate.afterUser", "user.deactivate"],
    ["org.deactivate.afterOrgs", "org.deactivate"],
  ])("dies at %s and leaves the operation all-or-nothing", async (point, op) => {
    const dataDir = join(tempDir(), "copy");
    cpSync(base, dataDir, { recursive: true });
    const before = await withStore(dataDir, (s) => auditCount(s));
    const r = await runChild(dataDir, point, op);
    expect(r.signal, r.out).toBe("SIGKILL");
    expect(r.out).not.toContain("survived");
    await withStore(dataDir, async (s) => {
      expect(await s.integrityCheck()).toBe("ok");
      expect(await auditCount(s)).toBe(before);
      const victim = await s.getUserByUsernameKey("victim@example.com");
      expect(victim?.active).toBe(true);
      expect(victim?.blocked).toBe(false);
      expect((await s.rolesOf([victim?.userId ?? 0])).get(victim?.userId ?? 0)).toEqual(["Desktop User"]);
      const orgs = await s.listOrgs({ scope: { kind: "all" } }, { offset: 0, limit: 100 });
      expect(orgs.items.map((o) => o.name).sort()).toEqual(["Cairn", "Crash dept", "Crash team"]);
      expect(orgs.items.every((o) => o.active)).toBe(true);
    });
  });

  it("keeps a transaction committed before the kill", async () => {
    const dataDir = join(tempDir(), "copy");
    cpSync(base, dataDir, { recursive: true });
    const r = await runChild(dataDir, "org.create.afterInsert,2", "org.create.twice");
    expect(r.signal, r.out).toBe("SIGKILL");
    await withStore(dataDir, async (s) => {
      expect(await s.integrityCheck()).toBe("ok");
      const names = (await s.listOrgs({ scope: { kind: "all" } }, { offset: 0, limit: 100 })).items.map((o) => o.name);
      expect(names).toContain("Committed org");
      expect(names).not.toContain("Second org");
      expect(await auditCount(s, "org.create")).toBe(3);
    });
  });

  it("dies inside a device registration and leaves no device, token, key or audit row; registering again works", async () => {
    const dataDir = join(tempDir(), "copy");
    cpSync(base, dataDir, { recursive: true });
    const before = await withStore(dataDir, (s) => auditCount(s));
    const { userKeys } = rows(dataDir);
    const r = await runChild(dataDir, "device.register.afterDevice", "device.register");
    expect(r.signal, r.out).toBe("SIGKILL");
    expect(r.out).not.toContain("survived");
    await withStore(dataDir, async (s) => {
      expect(await s.integrityCheck()).toBe("ok");
      expect(await auditCount(s)).toBe(before);
    });
    expect(rows(dataDir)).toMatchObject({ devices: ["old-laptop"], deviceTokens: 0, userKeys, registerAudits: 0 });
    // the agent retries after the restart: one whole registration
    const a = await startAuthority({ dataDir, host: "127.0.0.1", port: 0, argon2: TEST_ARGON2, operations: { noSchedules: true } });
    try {
      const dept = (await a.ctx.store.listOrgs({ scope: { kind: "all" }, q: "Crash dept" }, { offset: 0, limit: 1 })).items[0];
      const reg = await a.ctx.registration.register(
        {
          registrationKey: dept?.registrationKey ?? "",
          username: "victim@example.com",
          password: "password123",
          totp: null,
          deviceName: "crashing-laptop",
          hostname: "crash-host",
          osName: "linux",
          osVersion: "6.1",
          osArch: "x64",
          agentVersion: "0.1.0",
          timeZone: "UTC",
          existingDeviceGuid: null,
        },
        "127.0.0.1",
      );
      expect(reg.deviceToken).toMatch(/^cnd_/);
    } finally {
      await a.close();
    }
    expect(rows(dataDir)).toMatchObject({ devices: ["old-laptop", "crashing-laptop"], deviceTokens: 1, userKeys, registerAudits: 1 });
  });

  it.each([
    ["coldstorage.purge.afterShred", false],
    ["coldstorage.purge.afterCommit", true],
  ])("dies at %s of a cold-storage purge and leaves it unstarted or recorded whole; the next run finishes it", async (point, committed) => {
    const dataDir = join(tempDir(), "copy");
    cpSync(base, dataDir, { recursive: true });
    const before = await withStore(dataDir, (s) => auditCount(s));
    const r = await runChild(dataDir, point, "coldstorage.purge", ARCHIVE_GUID);
    expect(r.signal, r.out).toBe("SIGKILL");
    expect(r.out).not.toContain("survived");
    await withStore(dataDir, async (s) => {
      expect(await s.integrityCheck()).toBe("ok");
      expect(await auditCount(s)).toBe(committed ? before + 1 : before);
    });
    const after = rows(dataDir);
    // never a destroyed key without its purge record, nor a record with the key kept
    expect(after.cold).toBe(1);
    if (committed) {
      expect(after.archive.purged_at).not.toBeNull();
      expect(after.archive.wrapped_archive_key).toBeNull();
      expect(after.purgeAudits).toBe(1);
    } else {
      expect(after.archive.purged_at).toBeNull();
      expect(after.archive.wrapped_archive_key?.length).toBe(61);
      expect(after.purgeAudits).toBe(0);
    }
    // the next scheduled run purges it (or finishes the recorded purge), once
    const a = await startAuthority({ dataDir, host: "127.0.0.1", port: 0, argon2: TEST_ARGON2, operations: { noSchedules: true } });
    try {
      const run = await operationsOf(a.ctx).coldStorage.purgeDue(Date.now());
      expect(run.deleted).toEqual([ARCHIVE_GUID]);
    } finally {
      await a.close();
    }
    expect(rows(dataDir)).toMatchObject({ cold: 0, purgeAudits: 1, archive: { wrapped_archive_key: null } });
  });
});
