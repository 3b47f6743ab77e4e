/**
 * The agent control channel (`wss://A/v1/agent`) against a fake storage node: registration
 * (T26: wrong, rotated and foreign keys, guessing, auto-created users, key policies), the
 * configuration, archives placed on a node before their token, storage tokens, archive and user
 * keys (raise-only), pushes, and T27: deauthorize, block and deactivate with a live link, on the
 * channel and on REST.
 */
import { join } from "node:path";
import {
  AGENT_CHANNEL,
  DAY_MS,
  generateKey,
  importPublicKey,
  ManualClock,
  PASSWORD_WRAPPED_KEY_BYTES,
  type StorageClaims,
  TEST_SCRYPT,
  unwrapKey,
  verifyToken,
  wrapContext,
  wrapKeyWithPassword,
} from "@cairn/protocol";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { totpCode } from "../src/auth/totp.js";
import { caller, createOrg, createUser, dataOf, errorName } from "./api-fixture.js";
import { type DeviceFixture, deviceFixture } from "./device-fixture.js";
import { agentLink, fakeNode, openSocket, peerOn, refusalOf, register } from "./ws-peers.js";

const clock = new ManualClock(Date.UTC(2026, 4, 4, 8, 0, 0));
let f: DeviceFixture;
beforeAll(async () => {
  f = await deviceFixture({ clock });
});
afterAll(async () => {
  await f.dispose();
});

const verifyStorage = (token: string) =>
  verifyToken<StorageClaims>(token, (kid) => (f.a.ctx.keys.verifying.has(kid) ? f.a.ctx.keys.verifying.get(kid) : undefined), clock, { typ: "storage" });

describe("registration (T26)", () => {
  it("creates an unknown user in the key's org, stores the device token hashed, and hands over the escrowed user key", async () => {
    const r = await register(f.a, { registrationKey: f.a.registrationKey, username: "ana@example.com", password: "ana-password-1" });
    expect(r.deviceToken).toMatch(/^cnd_/);
    expect(r).toMatchObject({ orgUid: f.a.orgUid, keyPolicy: "escrow", wrappedUserKey: null });
    expect(r.userKey?.length).toBe(32);
    const users = dataOf<{ users: { username: string; orgUid: string; userUid: string }[] }>(await f.admin.get("/api/User?username=ana@example.com"));
    expect(users.users[0]).toMatchObject({ username: "ana@example.com", orgUid: f.a.orgUid, userUid: r.userUid });
    const db = new Database(join(f.a.dataDir, "authority.db"), { readonly: true });
    const tokens = db.prepare("SELECT token_hash FROM device_tokens").all() as { token_hash: string }[];
    const escrow = db.prepare("SELECT escrow_wrapped FROM user_keys k JOIN users u ON u.user_id = k.user_id WHERE u.user_uid = ?").get(r.userUid) as {
      escrow_wrapped: Buffer;
    };
    db.close();
    expect(JSON.stringify(tokens).includes(r.deviceToken)).toBe(false);
    // the escrowed copy is the key handed over, wrapped by the KEK
    expect(unwrapKey(f.a.ctx.keys.escrowKek, escrow.escrow_wrapped, wrapContext.userKey(r.userUid, 1)).equals(Buffer.from(r.userKey as Uint8Array))).toBe(true);
    // the same user's second device gets the same user key
    const again = await register(f.a, { registrationKey: f.a.registrationKey, username: "ana@example.com", password: "ana-password-1", deviceName: "second" });
    expect(Buffer.from(again.userKey as Uint8Array).equals(Buffer.from(r.userKey as Uint8Array))).toBe(true);
    expect(again.deviceGuid).not.toBe(r.deviceGuid);
  });

  it("refuses a wrong, rotated or foreign key and a wrong password; a device lands only in the key's org", async () => {
    const org = await createOrg(f.admin, "Other tenant", f.a.orgUid);
    await createUser(f.admin, org.orgUid, "bob@example.com", [], "bob-password-1");
    const before = dataOf<{ totalCount: number }>(await f.admin.get("/api/Computer?pgNum=1&pgSize=1")).totalCount;
    // org A's (top) key while claiming org B's user
    await expect(register(f.a, { registrationKey: f.a.registrationKey, username: "bob@example.com", password: "bob-password-1" })).rejects.toMatchObject({
      code: "REGISTRATION_KEY_INVALID",
    });
    await expect(register(f.a, { registrationKey: "AAAA-BBBB-CCCC-DDDD", username: "bob@example.com", password: "bob-password-1" })).rejects.toMatchObject({
      code: "REGISTRATION_KEY_INVALID",
    });
    await expect(register(f.a, { registrationKey: org.registrationKey, username: "bob@example.com", password: "wrong-password" })).rejects.toMatchObject({
      code: "INVALID_CREDENTIALS",
    });
    const rotated = dataOf<{ registrationKey: string }>(await f.admin.send("POST", `/api/v1/orgs/${org.orgId}/registration-key`));
    await expect(register(f.a, { registrationKey: org.registrationKey, username: "bob@example.com", password: "bob-password-1" })).rejects.toMatchObject({
      code: "REGISTRATION_KEY_INVALID",
    });
    const ok = await register(f.a, { registrationKey: rotated.registrationKey, username: "bob@example.com", password: "bob-password-1" });
    expect(ok.orgUid).toBe(org.orgUid);
    expect(dataOf<{ totalCount: number }>(await f.admin.get("/api/Computer?pgNum=1&pgSize=1")).totalCount).toBe(before + 1);
  });

  it("does not create users when the org turns it off", async () => {
    const org = await createOrg(f.admin, "No auto-create", f.a.orgUid);
    dataOf(await f.admin.send("PUT", `/api/v1/orgs/${org.orgId}/settings`, { packets: [{ key: "general.autoCreateUsers", value: false }] }));
    await expect(register(f.a, { registrationKey: org.registrationKey, username: "nobody@example.com", password: "nobody-password" })).rejects.toMatchObject({
      code: "INVALID_CREDENTIALS",
    });
    expect(dataOf<{ totalCount: number }>(await f.admin.get("/api/User?username=nobody@example.com")).totalCount).toBe(0);
  });

  it("limits guessing from one address (1000 guesses a minute get nowhere)", async () => {
    clock.advance(16 * 60_000); // the earlier tests' failures leave the window
    const errors: string[] = [];
    for (let i = 0; i < 25; i++) {
      try {
        await register(f.a, { registrationKey: `GUES-S000-0000-${String(i).padStart(4, "0")}`, username: "ana@example.com", password: "ana-password-1" });
      } catch (err) {
        errors.push((err as { code: string }).code);
      }
    }
    expect(errors.slice(0, 20).every((c) => c === "REGISTRATION_KEY_INVALID")).toBe(true);
    expect(errors.slice(20).every((c) => c === "RATE_LIMITED")).toBe(true);
    // even the right key, from that address, until the window passes
    await expect(register(f.a, { registrationKey: f.a.registrationKey, username: "ana@example.com", password: "ana-password-1" })).rejects.toMatchObject({
      code: "RATE_LIMITED",
    });
    clock.advance(16 * 60_000);
    await register(f.a, { registrationKey: f.a.registrationKey, username: "ana@example.com", password: "ana-password-1", deviceName: "after" });
  });
});

describe("configuration, archives and tokens", () => {
  it("answers get-config with the resolved settings and the offered destination, then places an archive before its token", async () => {
    const d = await f.device({ username: "carl@example.com", archive: false });
    const cfg = await d.link.peer.call("get-config", {});
    expect(cfg.device).toMatchObject({ guid: d.deviceGuid, blocked: false, active: true });
    expect(cfg.settings).toMatchObject({
      frequencyMs: 900_000,
      keyPolicy: "escrow",
      visibility: "visible",
      minutesUntilWarning: 4320,
      minutesUntilSevere: 7200,
    });
    expect(cfg.destinations).toEqual([
      {
        destinationGuid: f.dest.guid,
        name: "Primary",
        autoStart: true,
        optedIn: false,
        isProvider: false,
        archiveGuid: null,
        server: null,
        token: null,
        tokenExpiresAt: null,
      },
    ]);
    expect(cfg.settings.backupSets[0]?.destinations).toEqual([f.dest.guid]);
    const placedBefore = f.node.placed.length;
    const ca = await d.link.peer.call("create-archive", { destinationGuid: f.dest.guid });
    expect(ca.created).toBe(true);
    expect(f.node.placed.length).toBe(placedBefore + 1);
    expect(f.node.placed.at(-1)).toMatchObject({ archiveGuid: ca.archiveGuid, destinationGuid: f.dest.guid, cold: false });
    expect(ca.server).toEqual({ serverGuid: f.node.serverGuid, url: "wss://127.0.0.1:1/v1/data", fingerprint: "AB".repeat(32) });
    const claims = verifyStorage(ca.token);
    expect(claims).toMatchObject({ typ: "storage", dev: d.deviceGuid, usr: d.userUid, org: f.a.orgUid, arc: ca.archiveGuid, dst: f.dest.guid, scope: "all" });
    expect(ca.tokenExpiresAt).toBe(Math.floor(clock.now() / 1000) * 1000 + 7 * DAY_MS);
    // asked again: the same archive, not placed twice
    const again = await d.link.peer.call("create-archive", { destinationGuid: f.dest.guid });
    expect(again).toMatchObject({ archiveGuid: ca.archiveGuid, created: false });
    expect(f.node.placed.length).toBe(placedBefore + 1);
    // get-config now carries archive, server and token
    const cfg2 = await d.link.peer.call("get-config", {});
    expect(cfg2.destinations[0]).toMatchObject({ archiveGuid: ca.archiveGuid, server: ca.server });
    expect(verifyStorage(cfg2.destinations[0]?.token as string).arc).toBe(ca.archiveGuid);
    // renew-tokens covers every archive of the device
    const renewed = await d.link.peer.call("renew-tokens", {});
    expect(renewed.tokens.map((t) => t.archiveGuid)).toEqual([ca.archiveGuid]);
    // a destination not offered is refused
    await expect(d.link.peer.call("create-archive", { destinationGuid: "123456789012345678" })).rejects.toMatchObject({ code: "FORBIDDEN" });
  });

  it("makes the storage token lifetime configurable per org", async () => {
    const org = await createOrg(f.admin, "Short tokens", f.a.orgUid);
    dataOf(await f.admin.send("PUT", `/api/v1/orgs/${org.orgId}/settings`, { packets: [{ key: "general.storageTokenTtlMs", value: 2 * 3_600_000 }] }));
    const d = await f.device({ username: "short@example.com", registrationKey: org.registrationKey });
    const t = await d.link.peer.call("renew-tokens", {});
    expect(t.tokens[0]?.tokenExpiresAt).toBe(Math.floor(clock.now() / 1000) * 1000 + 2 * 3_600_000);
  });

  it("keeps archive keys and returns the user's wrapped keys of all devices", async () => {
    const d = await f.device({ username: "keys@example.com" });
    const ak = generateKey();
    const keys = await d.link.peer.call("get-archive-keys", {});
    expect(keys.keys.map((k) => k.archiveGuid)).toEqual([d.archiveGuid]);
    // a key of the same version is not replaced; a higher version is a rotation
    await expect(
      d.link.peer.call("set-archive-key", {
        archiveGuid: d.archiveGuid as string,
        wrappedArchiveKey: keys.keys[0]?.wrappedArchiveKey as Buffer,
        keyVersion: 1,
      }),
    ).rejects.toMatchObject({ code: "CONFLICT" });
    void ak;
    const other = await f.device({ username: "keys@example.com", deviceName: "keys-2" });
    const both = await other.link.peer.call("get-archive-keys", {});
    expect(both.keys.map((k) => k.deviceGuid).sort()).toEqual([d.deviceGuid, other.deviceGuid].sort());
  });

  it("raises the key policy and never lowers it (KEY_POLICY_DOWNGRADE)", async () => {
    const d = await f.device({ username: "raise@example.com", archive: false });
    const wrapped = wrapKeyWithPassword("archive password", generateKey(), wrapContext.userKey(d.userUid), TEST_SCRYPT);
    expect(wrapped.length).toBe(PASSWORD_WRAPPED_KEY_BYTES);
    await d.link.peer.call("set-user-key", { keyPolicy: "password", wrappedUserKey: wrapped });
    await expect(d.link.peer.call("set-user-key", { keyPolicy: "escrow", wrappedUserKey: null })).rejects.toMatchObject({ code: "KEY_POLICY_DOWNGRADE" });
    // a new device of the user gets the password wrapping, not a key
    const r = await register(f.a, { registrationKey: f.a.registrationKey, username: "raise@example.com", password: "device-password-1" });
    expect(r).toMatchObject({ keyPolicy: "password", userKey: null });
    expect(Buffer.from(r.wrappedUserKey as Uint8Array).equals(wrapped)).toBe(true);
    await d.link.peer.call("set-user-key", { keyPolicy: "custom", wrappedUserKey: null });
    await expect(d.link.peer.call("set-user-key", { keyPolicy: "password", wrappedUserKey: wrapped })).rejects.toMatchObject({ code: "KEY_POLICY_DOWNGRADE" });
    const r2 = await register(f.a, { registrationKey: f.a.registrationKey, username: "raise@example.com", password: "device-password-1" });
    expect(r2).toMatchObject({ keyPolicy: "custom", userKey: null, wrappedUserKey: null });
  });

  it("stops new users at the org's maximum user subscriptions (SEATS_EXHAUSTED), not users who back up already", async () => {
    const org = await createOrg(f.admin, "One seat", f.a.orgUid);
    dataOf(await f.admin.send("PUT", `/api/v1/orgs/${org.orgId}/settings`, { groups: { quota: { values: { maxSeats: 1 } } } }));
    const first = await f.device({ username: "seat1@example.com", registrationKey: org.registrationKey });
    expect(first.archiveGuid).not.toBeNull();
    const second = await f.device({ username: "seat2@example.com", registrationKey: org.registrationKey, archive: false });
    await expect(second.link.peer.call("create-archive", { destinationGuid: f.dest.guid })).rejects.toMatchObject({ code: "SEATS_EXHAUSTED" });
    // the first user's second device still may
    const again = await f.device({ username: "seat1@example.com", registrationKey: org.registrationKey, deviceName: "seat1-b" });
    expect(again.archiveGuid).not.toBeNull();
  });

  it("pushes config-changed when the device's effective settings change", async () => {
    const org = await createOrg(f.admin, "Pushed", f.a.orgUid);
    const d = await f.device({ username: "push@example.com", registrationKey: org.registrationKey, archive: false });
    const n = d.link.events.length;
    dataOf(await f.admin.send("PUT", `/api/v1/orgs/${org.orgId}/settings`, { groups: { device: { values: { frequencyMs: 3_600_000 } } } }));
    await expect.poll(() => d.link.events.slice(n).map((e) => e.event)).toContain("config-changed");
    expect((await d.link.peer.call("get-config", {})).settings.frequencyMs).toBe(3_600_000);
  });
});

describe("T27: deauthorize, block and deactivate with live sessions", () => {
  it("deauthorize: the agent is told and disconnected, its token dies at once, nodes refuse its tokens, data is kept", async () => {
    const d = await f.device({ username: "deauth@example.com" });
    expect((await f.admin.send("PUT", `/api/ComputerDeauthorization/${d.computerId}`)).status).toBe(204);
    const closed = await d.link.closed;
    expect(closed.code).toBe(4401);
    expect(d.link.events.map((e) => e.event)).toContain("deauthorized");
    expect((await refusalOf(openSocket(f.a, "/v1/agent", { bearer: d.deviceToken }))).status).toBe(401);
    await expect.poll(() => f.node.revoked).toContainEqual(expect.objectContaining({ kind: "device", guid: d.deviceGuid, scope: "all" }));
    expect(dataOf(await f.admin.get(`/api/Computer/${d.computerId}?incBackupUsage=True`))).toMatchObject({
      status: "Active, Deauthorized",
      backupUsage: [expect.objectContaining({ archiveGuid: d.archiveGuid })],
    });
    // registering again resumes the same device and archive
    const r = await register(f.a, {
      registrationKey: f.a.registrationKey,
      username: "deauth@example.com",
      password: "device-password-1",
      existingDeviceGuid: d.deviceGuid,
    });
    expect(r.deviceGuid).toBe(d.deviceGuid);
    const link = await agentLink(f.a, r.deviceToken);
    expect((await link.peer.call("get-config", {})).destinations[0]?.archiveGuid).toBe(d.archiveGuid);
    link.ws.close();
  });

  it("sign-out (cairn agent deauthorize): the device deauthorizes itself, answered before its link closes, the same as an admin's", async () => {
    const d = await f.device({ username: "signout@example.com" });
    await expect(d.link.peer.call("sign-out", {})).resolves.toEqual({});
    expect((await d.link.closed).code).toBe(4401);
    expect(d.link.events.map((e) => e.event)).toContain("deauthorized");
    expect((await refusalOf(openSocket(f.a, "/v1/agent", { bearer: d.deviceToken }))).status).toBe(401);
    await expect.poll(() => f.node.revoked).toContainEqual(expect.objectContaining({ kind: "device", guid: d.deviceGuid, scope: "all" }));
    expect(dataOf(await f.admin.get(`/api/Computer/${d.computerId}`))).toMatchObject({ status: "Active, Deauthorized" });
    const audit = dataOf<{ auditEntries: { action: string; actorUsername: string | null; targetId: string }[] }>(
      await f.admin.get("/api/v1/audit-log?pgNum=1&pgSize=500"),
    );
    expect(audit.auditEntries.filter((e) => e.action === "device.deauthorize" && e.targetId === String(d.computerId))).toEqual([
      expect.objectContaining({ actorUsername: "signout@example.com" }),
    ]);
  });

  it("block: the owner cannot restore (restore-only revocation, DataKeyToken refused), backups go on and the link stays", async () => {
    const d = await f.device({ username: "blocked@example.com" });
    expect((await f.admin.send("PUT", `/api/ComputerBlock/${d.computerId}`)).status).toBe(204);
    await expect.poll(() => f.node.revoked).toContainEqual(expect.objectContaining({ kind: "device", guid: d.deviceGuid, scope: "restore" }));
    const cfg = await d.link.peer.call("get-config", {});
    expect(cfg.device.blocked).toBe(true);
    // tokens issued after the block still cannot restore
    const blockedTokens = (await d.link.peer.call("renew-tokens", {})).tokens;
    expect(blockedTokens).toHaveLength(1);
    expect(verifyStorage(blockedTokens[0]?.token as string).scope).toBe("backup");
    const owner = await (await import("./api-fixture.js")).caller(f.a, "blocked@example.com", "device-password-1");
    expect((await owner.send("POST", "/api/DataKeyToken", { computerGuid: d.deviceGuid })).status).toBe(403);
    expect((await f.admin.send("POST", "/api/DataKeyToken", { computerGuid: d.deviceGuid })).status).toBe(200);
    expect((await f.admin.send("DELETE", `/api/ComputerBlock/${d.computerId}`)).status).toBe(204);
    expect((await owner.send("POST", "/api/DataKeyToken", { computerGuid: d.deviceGuid })).status).toBe(200);
    expect(verifyStorage((await d.link.peer.call("renew-tokens", {})).tokens[0]?.token as string).scope).toBe("all");
    // a blocked user: the same (API.md §3: no sign-in, no restore, backups go on)
    const user = dataOf<{ users: { userId: number }[] }>(await f.admin.get("/api/User?username=blocked@example.com")).users[0] as { userId: number };
    expect((await f.admin.send("PUT", `/api/UserBlock/${user.userId}`)).status).toBe(204);
    expect(verifyStorage((await d.link.peer.call("renew-tokens", {})).tokens[0]?.token as string).scope).toBe("backup");
    expect((await f.admin.send("DELETE", `/api/UserBlock/${user.userId}`)).status).toBe(204);
  });

  it("deactivate: the link closes, backups stop (revocation), the archive goes to cold storage; reactivation brings it back", async () => {
    const d = await f.device({ username: "deact@example.com" });
    expect((await f.admin.send("POST", "/api/v4/computer-deactivation/update", { id: d.computerId })).status).toBe(204);
    await d.link.closed;
    expect((await refusalOf(openSocket(f.a, "/v1/agent", { bearer: d.deviceToken }))).status).toBe(401);
    await expect.poll(() => f.node.revoked).toContainEqual(expect.objectContaining({ kind: "device", guid: d.deviceGuid, scope: "all" }));
    await expect.poll(() => f.node.placed.find((p) => p.archiveGuid === d.archiveGuid)?.cold).toBe(true);
    expect(dataOf(await f.admin.get(`/api/Archive/${d.archiveGuid}`))).toMatchObject({ isColdStorage: true, archiveHoldExpireDate: expect.any(String) });
    expect(dataOf(await f.admin.get(`/api/Computer/${d.computerId}`))).toMatchObject({ status: "Deactivated", active: false });
    expect((await f.admin.send("POST", "/api/v4/computer-deactivation/remove", { id: d.computerId })).status).toBe(204);
    expect(dataOf(await f.admin.get(`/api/Archive/${d.archiveGuid}`))).toMatchObject({ isColdStorage: false });
    const link = await agentLink(f.a, d.deviceToken);
    // tokens issued after the reactivation are newer than the revocation
    const t = await link.peer.call("renew-tokens", {});
    expect(verifyStorage(t.tokens[0]?.token as string).iat * 1000).toBeGreaterThanOrEqual(clock.now() - 1000);
    link.ws.close();
  });

  it("refuses a register on an authenticated link and anything but register on an anonymous one", async () => {
    const ws = await openSocket(f.a, "/v1/agent");
    const { peer } = peerOn(ws, AGENT_CHANNEL);
    await expect(peer.call("get-config", {})).rejects.toMatchObject({ code: "UNSUPPORTED" });
    ws.close();
    void importPublicKey;
  });
});

function base32(text: string): Buffer {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const c of text) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

describe("more of the channels", () => {
  it("registration checks the password but never two-factor (seed 001: the setting does not apply to the agent)", async () => {
    const org = await createOrg(f.admin, "Two factor", f.a.orgUid);
    await createUser(f.admin, org.orgUid, "tf@example.com", [], "tf-password-1");
    const me = await caller(f.a, "tf@example.com", "tf-password-1");
    const secret = base32(dataOf<{ secret: string }>(await me.send("POST", "/api/v1/totp")).secret);
    expect((await me.send("POST", "/api/v1/totp/verify", { code: totpCode(secret, clock.now()) })).status).toBe(204);
    dataOf(await f.admin.send("PUT", `/api/v1/orgs/${org.orgId}/settings`, { groups: { security: { values: { twoFactorRequired: true } } } }));
    clock.advance(60_000);
    // the password is still checked
    await expect(register(f.a, { registrationKey: org.registrationKey, username: "tf@example.com", password: "wrong-password" })).rejects.toMatchObject({
      code: "INVALID_CREDENTIALS",
    });
    // an enrolled user of an org that requires two-factor registers without a code, and a code sent anyway is ignored
    const r = await register(f.a, { registrationKey: org.registrationKey, username: "tf@example.com", password: "tf-password-1" });
    expect(r.orgUid).toBe(org.orgUid);
    const again = await register(f.a, { registrationKey: org.registrationKey, username: "tf@example.com", password: "tf-password-1", totp: "000000" });
    expect(again.userUid).toBe(r.userUid);
    // the console and the API still ask that user for the code
    const noCode = await f.a.client.request("GET", "/c42api/v3/auth/jwt?useBody=True", { basic: ["tf@example.com", "tf-password-1"] });
    expect(errorName(noCode)).toBe("TOTP_REQUIRED");
    // an unknown username is created at registration in an org that requires two-factor, and must enroll before using the API
    const created = await register(f.a, { registrationKey: org.registrationKey, username: "tf-new@example.com", password: "tf-password-2" });
    expect(created.orgUid).toBe(org.orgUid);
    const newUser = await f.a.client.request("GET", "/c42api/v3/auth/jwt?useBody=True", { basic: ["tf-new@example.com", "tf-password-2"] });
    expect(errorName(newUser)).toBe("TOTP_REQUIRED");
  });

  it("opts into a destination offered without auto-start, and hands restore-status reports to the restores part", async () => {
    const org = await createOrg(f.admin, "Opt in", f.a.orgUid);
    const optional = dataOf<{ destinationId: number; guid: string }>(
      await f.admin.send("POST", "/api/v1/destinations", { destinationName: "Optional", providerKey: null }),
    );
    dataOf(
      await f.admin.send("PUT", `/api/v1/orgs/${org.orgId}/destinations`, {
        inherit: false,
        destinations: [
          { destinationId: f.dest.destinationId, offered: true, autoStart: true },
          { destinationId: optional.destinationId, offered: true, autoStart: false },
        ],
      }),
    );
    const d = await f.device({ username: "optin@example.com", registrationKey: org.registrationKey, archive: false });
    const before = (await d.link.peer.call("get-config", {})).destinations.find((x) => x.destinationGuid === optional.guid);
    expect(before).toMatchObject({ autoStart: false, optedIn: false });
    const n = d.link.events.length;
    await d.link.peer.call("opt-in", { destinationGuid: optional.guid, optIn: true });
    await expect.poll(() => d.link.events.slice(n).map((e) => e.event)).toContain("config-changed");
    const cfg = await d.link.peer.call("get-config", {});
    expect(cfg.destinations.find((x) => x.destinationGuid === optional.guid)).toMatchObject({ optedIn: true });
    expect(cfg.settings.backupSets[0]?.destinations.sort()).toEqual([f.dest.guid, optional.guid].sort());
    // the auto-start destination is the organization's choice: the device cannot opt out of it
    const refused = await d.link.peer.call("opt-in", { destinationGuid: f.dest.guid, optIn: false }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: "FORBIDDEN" });
    expect((await d.link.peer.call("get-config", {})).settings.backupSets[0]?.destinations).toContain(f.dest.guid);
    const reports: unknown[] = [];
    const off = f.a.ctx.agents.onRestoreStatus((r) => reports.push(r));
    await d.link.peer.call("restore-status", { jobId: "job-12345678", state: "done", files: 3, bytes: 10, errors: 0, totalFiles: 3, totalBytes: 10 });
    off();
    expect(reports).toEqual([expect.objectContaining({ jobId: "job-12345678", state: "done", files: 3, deviceGuid: d.deviceGuid })]);
    expect(f.a.ctx.agents.isConnectedGuid(d.deviceGuid)).toBe(true);
  });

  it("tells a reconnecting node every placement on it, and lets a node report only its own archives", async () => {
    const d = await f.device({ username: "placements@example.com" });
    const key = dataOf<{ enrollKey: string }>(await f.admin.send("POST", "/api/v1/enroll-keys", { destinationId: f.dest.destinationId }));
    const other = await fakeNode(f.a, key.enrollKey);
    // another server cannot write this archive's figures
    await other.peer.call("report-archives", {
      archives: [
        {
          archiveGuid: d.archiveGuid as string,
          storePointId: other.storePointIds[0] as number,
          archiveBytes: 999,
          selectedFiles: 1,
          selectedBytes: 1,
          todoFiles: 0,
          todoBytes: 0,
          versionCount: 1,
          fileCount: 1,
          lastBackup: null,
          lastCompletedBackup: null,
          lastMaintenance: null,
          maintenanceDurationMs: 0,
          compactBytesRemoved: 0,
          damagedBlocks: 0,
          cold: false,
        },
      ],
    });
    expect(dataOf(await f.admin.get(`/api/Archive/${d.archiveGuid}`))).toMatchObject({ archiveBytes: 0 });
    other.close();
    // the first node's link drops and comes back: announce brings its placements
    f.node.close();
    await expect.poll(() => f.a.ctx.nodes.all().some((l) => l.serverGuid === f.node.serverGuid)).toBe(false);
    const ws = await openSocket(f.a, "/v1/storenode", { bearer: f.node.nodeSecret });
    const { peer } = peerOn(ws, (await import("@cairn/protocol")).NODE_CHANNEL);
    const ann = await peer.call("announce", { urls: ["wss://127.0.0.1:1"], fingerprint: "AB".repeat(32), storePoints: [], connections: 0, nodeVersion: "0" });
    expect(ann.placements.find((p) => p.archiveGuid === d.archiveGuid)).toMatchObject({
      deviceGuid: d.deviceGuid,
      userUid: d.userUid,
      orgUid: f.a.orgUid,
      destinationGuid: f.dest.guid,
      storePointId: f.node.storePointIds[0],
      quotaBytes: -1,
      cold: false,
    });
    expect(ann.revocations.length).toBeGreaterThan(0);
    expect(ann.authorityPublicKeys.length).toBe(1);
    f.node.ws = ws;
    f.node.peer = peer;
  });
});
