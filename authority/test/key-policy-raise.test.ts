/**
 * Raising an org's encryption key policy reaches the users who registered before (seed 001
 * "Security": raised, never downgraded; RELIABILITY.md §5.1: the authority holds the user key
 * only under escrow): from the REST raise on, the server no longer decrypts their archives — no
 * new restore session, no zip from a session opened before, no tree browsing — with the policy's
 * platform error. The escrowed copy is kept, unused, until a device protects the key under the
 * new policy (so a user with no working device does not lose the archives): then it is gone.
 * Users of an org that stays at escrow are unaffected; a user moved into a stronger org is
 * refused as well.
 */
import Database from "better-sqlite3";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Caller, caller, createOrg, dataOf, errorName } from "./api-fixture.js";
import { type DeviceFixture, deviceFixture, type TestDevice } from "./device-fixture.js";

let f: DeviceFixture;
let raised: { orgId: number; orgUid: string; registrationKey: string };
let kid: { orgId: number; orgUid: string; registrationKey: string };
let stays: { orgId: number; orgUid: string; registrationKey: string };
let early: TestDevice;
let kidDevice: TestDevice;
let steady: TestDevice;
let mover: TestDevice;
let earlyOwner: Caller;
let steadyOwner: Caller;

const PASSWORD = "device-password-1";

async function openSession(c: Caller, deviceGuid: string, body: Record<string, unknown> = {}) {
  return c.send("POST", "/api/WebRestoreSession", { computerGuid: deviceGuid, ...body });
}

function keyRow(userUid: string): { key_policy: string; escrow_wrapped: Buffer | null } | undefined {
  const db = new Database(join(f.a.dataDir, "authority.db"), { readonly: true, fileMustExist: true });
  try {
    return db.prepare("SELECT k.key_policy, k.escrow_wrapped FROM user_keys k JOIN users u ON u.user_id = k.user_id WHERE u.user_uid = ?").get(userUid) as
      | { key_policy: string; escrow_wrapped: Buffer | null }
      | undefined;
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  f = await deviceFixture();
  raised = await createOrg(f.admin, "Raised org", f.a.orgUid);
  kid = await createOrg(f.admin, "Raised kid", raised.orgUid);
  stays = await createOrg(f.admin, "Escrow org", f.a.orgUid);
  // registered while every org is at the account-key (escrow) policy
  early = await f.device({ username: "early@example.com", registrationKey: raised.registrationKey, deviceName: "early-laptop" });
  kidDevice = await f.device({ username: "kid@example.com", registrationKey: kid.registrationKey, deviceName: "kid-laptop" });
  steady = await f.device({ username: "steady@example.com", registrationKey: stays.registrationKey, deviceName: "steady-laptop" });
  mover = await f.device({ username: "mover@example.com", registrationKey: stays.registrationKey, deviceName: "mover-laptop" });
  earlyOwner = await caller(f.a, "early@example.com", PASSWORD);
  steadyOwner = await caller(f.a, "steady@example.com", PASSWORD);
}, 60_000);
afterAll(async () => {
  await f.dispose();
});

describe("raising the encryption key policy after users registered", () => {
  it("refuses server-side decryption for the org's earlier users, keeping their escrowed key unused; other orgs are unaffected", async () => {
    expect(early.userKey).not.toBeNull();
    expect(keyRow(early.userUid)).toMatchObject({ key_policy: "escrow" });
    // before the raise the owner and an administrator can open a web restore session
    const before = dataOf<{ webRestoreSessionId: string }>(await openSession(earlyOwner, early.deviceGuid));
    expect(before.webRestoreSessionId).toBeTruthy();

    dataOf(await f.admin.send("PUT", `/api/v1/orgs/${raised.orgId}/settings`, { groups: { security: { values: { keyPolicy: "password" } } } }));

    // the escrowed copy stays until a device protects the key under the new policy (the only copy
    // a user with no working device still has), for the org's users and its inheriting child's
    for (const uid of [early.userUid, kidDevice.userUid]) {
      expect(keyRow(uid)?.key_policy).toBe("escrow");
      expect(keyRow(uid)?.escrow_wrapped).not.toBeNull();
    }

    // no new session, for the owner or an administrator, with or without a password
    for (const [who, body] of [
      [earlyOwner, {}],
      [earlyOwner, { privatePassword: "any password at all" }],
      [f.admin, {}],
    ] as const) {
      const r = await openSession(who, early.deviceGuid, body);
      expect(r.status, r.text).toBe(500);
      expect(errorName(r)).toBe("PRIVATE_PASSWORD_INVALID");
    }
    const kidRefused = await openSession(f.admin, kidDevice.deviceGuid);
    expect(errorName(kidRefused)).toBe("PRIVATE_PASSWORD_INVALID");

    // a session opened before the raise decrypts nothing more: no zip, no server restore, no tree
    for (const restoreToServer of [false, true]) {
      const job = await earlyOwner.send("POST", "/api/v9/restore/web", {
        webRestoreSessionId: before.webRestoreSessionId,
        sourceComputerGuid: early.deviceGuid,
        restoreGroups: [{ files: [{ path: "/", fileType: "DIRECTORY", selected: true }] }],
        restoreToServer,
      });
      expect(errorName(job), job.text).toBe("PRIVATE_PASSWORD_INVALID");
    }
    const tree = await earlyOwner.get(`/api/WebRestoreTreeNode?guid=${early.deviceGuid}&webRestoreSessionId=${before.webRestoreSessionId}`);
    expect(errorName(tree), tree.text).toBe("PRIVATE_PASSWORD_INVALID");

    // the org that stays at escrow: its user's key is kept and web restores work
    expect(keyRow(steady.userUid)?.key_policy).toBe("escrow");
    expect(keyRow(steady.userUid)?.escrow_wrapped).not.toBeNull();
    expect(dataOf<{ webRestoreSessionId: string; zipRestoreAllowed: boolean }>(await openSession(steadyOwner, steady.deviceGuid))).toMatchObject({
      zipRestoreAllowed: true,
    });
    expect((await openSession(f.admin, steady.deviceGuid)).status).toBe(200);
  });

  it("raising further to a custom key refuses with CUSTOM_KEY_INVALID", async () => {
    dataOf(await f.admin.send("PUT", `/api/v1/orgs/${raised.orgId}/settings`, { groups: { security: { values: { keyPolicy: "custom" } } } }));
    // even the user's own key, sent as the custom key, opens nothing while the record predates the policy
    const r = await openSession(f.admin, early.deviceGuid, { encryptionKey: (early.userKey as Buffer).toString("hex") });
    expect(errorName(r)).toBe("CUSTOM_KEY_INVALID");
  });

  it("refuses a user whose record predates the org's policy (moved into a stronger org)", async () => {
    const moverUser = dataOf<{ users: { userId: number }[] }>(await f.admin.get("/api/User?username=mover%40example.com")).users[0]?.userId;
    expect((await f.admin.send("POST", "/api/UserMoveProcess", { userId: moverUser, parentOrgId: raised.orgId })).status).toBe(204);
    const r = await openSession(f.admin, mover.deviceGuid);
    expect(r.status).toBe(500);
    expect(errorName(r)).toBe("CUSTOM_KEY_INVALID");
  });
});
