/**
 * T04: kill -9 of the authority in the middle of a multi-row transaction (child process, crash
 * points inside create-org, grant-role, deactivate-user and deactivate-org). After the restart
 * `integrity_check` is ok, each operation is all or nothing (no org or role without its audit
 * row), and a transaction committed before the kill survives (synchronous=FULL).
 *
 * Runs the compiled package (`npx tsc -b` first, as for every cross-package test).
 */
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ManualClock } from "@cairn/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_ARGON2 } from "../src/auth/passwords.js";
import { SYSTEM_PRINCIPAL } from "../src/auth/access.js";
import { openSqliteStore } from "../src/db/sqlite-store.js";
import { initAuthority, startAuthority } from "../src/index.js";
import type { AuthorityStore } from "../src/db/store.js";
import { tempDir } from "./helpers.js";

const CHILD = join(import.meta.dirname, "fixtures", "crash-child.mjs");

function runChild(dataDir: string, crashAt: string, op: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dataDir, crashAt, op], { stdio: ["ignore", "pipe", "pipe"] });
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
  await a.ctx.users.create(SYSTEM_PRINCIPAL, { orgUid: dept.orgUid, username: "victim@example.com", password: "password123" });
  await a.close();
  return dataDir;
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
});
