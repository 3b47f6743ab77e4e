import { isCairnError } from "@cairn/protocol";
import { describe, expect, it } from "vitest";
import { totpCode } from "../src/auth/totp.js";
import { coreFixture } from "./core-fixture.js";

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    if (isCairnError(e)) return e.code;
    throw e;
  }
}

describe("bootstrap", () => {
  it("creates the top-level org and the primary administrator with SYSADMIN", async () => {
    const f = await coreFixture();
    expect(f.root.parentId).toBeNull();
    expect(f.root.registrationKey).toMatch(/^[A-Z0-9]{4}(-[A-Z0-9]{4}){3}$/);
    expect(f.adminP.roles).toEqual(["SYSADMIN", "Desktop User"]);
    expect((await f.ctx.store.getUserKey(f.admin.userId))?.keyPolicy).toBe("escrow");
    expect(await codeOf(f.ctx.orgs.create(f.adminP, { orgName: "ok name" }))).toBeUndefined();
    const audit = await f.ctx.store.listAudit({ scope: { kind: "all" } }, { offset: 0, limit: 10 });
    expect(audit.items.map((a) => a.action)).toEqual(["authority.init", "org.create"]);
  });
});

describe("users", () => {
  it("refuses duplicates case-insensitively, short passwords and deactivated orgs, creating nothing", async () => {
    const f = await coreFixture();
    await f.user("ana@example.com", f.root);
    expect(await codeOf(f.ctx.users.create(f.adminP, { orgUid: f.root.orgUid, username: "ANA@example.com", password: "password123" }))).toBe("USER_DUPLICATE");
    expect(await codeOf(f.ctx.users.create(f.adminP, { orgUid: f.root.orgUid, username: "bob", password: "short" }))).toBe("NEW_PASSWORD_INVALID");
    expect(await codeOf(f.ctx.users.create(f.adminP, { orgUid: "123456789012345678", username: "bob" }))).toBe("ORG_NOT_FOUND");
    const a = await f.org("Dept A", f.root);
    await f.ctx.orgs.deactivate(f.adminP, a.orgId);
    expect(await codeOf(f.ctx.users.create(f.adminP, { orgUid: a.orgUid, username: "bob" }))).toBe("ORG_DEACTIVATED");
    expect((await f.ctx.store.listUsers({ scope: { kind: "all" } }, { offset: 0, limit: 10 })).total).toBe(2);
  });

  it("requires emails where the org says so", async () => {
    const f = await coreFixture();
    const a = await f.org("Mail org", f.root);
    await f.ctx.orgSettings.change(f.adminP, a.orgId, { packets: [{ key: "general.usernameIsAnEmail", value: true }] });
    expect(await codeOf(f.ctx.users.create(f.adminP, { orgUid: a.orgUid, username: "plain" }))).toBe("USERNAME_NOT_AN_EMAIL");
    expect(await codeOf(f.ctx.users.create(f.adminP, { orgUid: a.orgUid, username: "x@example.com" }))).toBeUndefined();
  });

  it("deactivates and reactivates with the cascade bookkeeping, and never the caller itself", async () => {
    const f = await coreFixture();
    const u = await f.user("ana", f.root);
    expect(await codeOf(f.ctx.userLifecycle.deactivate(f.adminP, f.admin.userId, false))).toBe("BAD_REQUEST");
    await f.ctx.userLifecycle.deactivate(f.adminP, u.userId, true);
    const after = await f.ctx.store.getUser(u.userId);
    expect(after?.active).toBe(false);
    expect(after?.blocked).toBe(true);
    expect(after?.authVersion).toBe(u.authVersion + 1);
    await f.ctx.userLifecycle.reactivate(f.adminP, u.userId, true);
    expect((await f.ctx.store.getUser(u.userId))?.active).toBe(true);
    expect((await f.ctx.store.getUser(u.userId))?.blocked).toBe(false);
  });
});

describe("orgs", () => {
  it("deactivates a subtree with its users and reactivates exactly that", async () => {
    const f = await coreFixture();
    const a = await f.org("Dept A", f.root);
    const a1 = await f.org("Team A1", a);
    const u = await f.user("u1", a1);
    expect(await codeOf(f.ctx.orgs.deactivate(f.adminP, f.root.orgId))).toBe("ORG_TOP_LEVEL");
    await f.ctx.orgs.deactivate(f.adminP, a.orgId);
    expect((await f.ctx.store.getOrg(a1.orgId))?.active).toBe(false);
    expect((await f.ctx.store.getUser(u.userId))?.active).toBe(false);
    expect(await codeOf(f.ctx.orgs.reactivate(f.adminP, a1.orgId))).toBe("ORG_DEACTIVATED");
    await f.ctx.orgs.reactivate(f.adminP, a.orgId);
    expect((await f.ctx.store.getOrg(a1.orgId))?.active).toBe(true);
    expect((await f.ctx.store.getUser(u.userId))?.active).toBe(true);
  });

  it("moves an org, never under its own descendant", async () => {
    const f = await coreFixture();
    const a = await f.org("Dept A", f.root);
    const a1 = await f.org("Team A1", a);
    const b = await f.org("Dept B", f.root);
    expect(await codeOf(f.ctx.orgs.changeParent(f.adminP, a.orgId, a1.orgId))).toBe("ORG_MOVE_INVALID");
    expect(await codeOf(f.ctx.orgs.changeParent(f.adminP, f.root.orgId, b.orgId))).toBe("ORG_TOP_LEVEL");
    const moved = await f.ctx.orgs.changeParent(f.adminP, a.orgId, b.orgId);
    expect(moved.parentId).toBe(b.orgId);
    expect((await f.ctx.store.getOrg(a1.orgId))?.path).toBe(`${moved.path}${a1.orgId}/`);
  });
});

describe("settings rules", () => {
  it("quotas change only with rights on the parent org", async () => {
    const f = await coreFixture();
    const a = await f.org("Dept A", f.root);
    const a1 = await f.org("Team A1", a);
    const orgAdmin = await f.as(await f.user("oa", a, ["Org Admin"]));
    const quota = { values: { archiveHoldDays: 10 } };
    expect(await codeOf(f.ctx.orgSettings.change(orgAdmin, a.orgId, { groups: { quota } }))).toBe("FORBIDDEN");
    expect(await codeOf(f.ctx.orgSettings.change(orgAdmin, a1.orgId, { groups: { quota } }))).toBeUndefined();
    // other groups of the own org are fine
    expect(await codeOf(f.ctx.orgSettings.change(orgAdmin, a.orgId, { groups: { reporting: { values: { warnInDays: 2 } } } }))).toBeUndefined();
  });

  it("refuses a child's maxSeats above its parent's, a locked value, and a lower key policy", async () => {
    const f = await coreFixture();
    const a = await f.org("Dept A", f.root);
    const a1 = await f.org("Team A1", a);
    await f.ctx.orgSettings.change(f.adminP, a.orgId, { groups: { quota: { values: { maxSeats: 10 } } } });
    expect(await codeOf(f.ctx.orgSettings.change(f.adminP, a1.orgId, { groups: { quota: { values: { maxSeats: 11 } } } }))).toBe("MAX_SEATS_EXCEEDS_PARENT");
    expect(await codeOf(f.ctx.orgSettings.change(f.adminP, a1.orgId, { groups: { quota: { values: { maxSeats: -1 } } } }))).toBe("MAX_SEATS_EXCEEDS_PARENT");
    expect(await codeOf(f.ctx.orgSettings.change(f.adminP, a1.orgId, { groups: { quota: { values: { maxSeats: 10 } } } }))).toBeUndefined();
    await f.ctx.orgSettings.change(f.adminP, a.orgId, { packets: [{ key: "packets.device_webRestore_enabled", value: "false", locked: true }] });
    expect(await codeOf(f.ctx.orgSettings.change(f.adminP, a1.orgId, { packets: [{ key: "packets.device_webRestore_enabled", value: "true" }] }))).toBe(
      "SETTING_LOCKED",
    );
    await f.ctx.orgSettings.change(f.adminP, a.orgId, { groups: { security: { values: { keyPolicy: "password" } } } });
    expect(await codeOf(f.ctx.orgSettings.change(f.adminP, a.orgId, { groups: { security: { values: { keyPolicy: "escrow" } } } }))).toBe(
      "KEY_POLICY_DOWNGRADE",
    );
    expect(await codeOf(f.ctx.orgSettings.change(f.adminP, a.orgId, { groups: { security: { inherit: true } } }))).toBe("KEY_POLICY_DOWNGRADE");
    const eff = await f.ctx.orgSettings.effective(f.adminP, a1.orgId);
    expect((eff.values as { security: { keyPolicy: string } }).security.keyPolicy).toBe("password");
  });

  it("re-enabling inheritance drops the override", async () => {
    const f = await coreFixture();
    const a = await f.org("Dept A", f.root);
    await f.ctx.orgSettings.change(f.adminP, f.root.orgId, { groups: { quota: { values: { archiveHoldDays: 90 } } } });
    await f.ctx.orgSettings.change(f.adminP, a.orgId, { groups: { quota: { values: { archiveHoldDays: 5 } } } });
    expect((await f.ctx.settings.resolveOrg(a)).values.quota.archiveHoldDays).toBe(5);
    await f.ctx.orgSettings.change(f.adminP, a.orgId, { groups: { quota: { inherit: true } } });
    const r = await f.ctx.settings.resolveOrg(a);
    expect(r.values.quota.archiveHoldDays).toBe(90);
    expect(r.inherits.quota).toBe(true);
    expect((await f.ctx.store.getSettingsLayers([a.orgId]))[0]?.groups).toEqual({});
  });
});

describe("sign-in", () => {
  it("answers INVALID_CREDENTIALS alike for unknown users and wrong passwords, and locks out after repeated failures", async () => {
    const f = await coreFixture();
    expect(await codeOf(f.ctx.auth.signIn("nobody", "x", null, "10.0.0.1", "jwt"))).toBe("INVALID_CREDENTIALS");
    expect(await codeOf(f.ctx.auth.signIn("admin@example.com", "wrong password", null, "10.0.0.1", "jwt"))).toBe("INVALID_CREDENTIALS");
    for (let i = 0; i < 10; i++) await codeOf(f.ctx.auth.signIn("admin@example.com", "wrong password", null, `10.0.1.${i}`, "jwt"));
    expect(await codeOf(f.ctx.auth.signIn("admin@example.com", "correct horse battery", null, "10.0.0.9", "jwt"))).toBe("RATE_LIMITED");
    f.clock.advance(16 * 60_000);
    expect(await codeOf(f.ctx.auth.signIn("admin@example.com", "correct horse battery", null, "10.0.0.9", "jwt"))).toBeUndefined();
  });

  it("enforces the TOTP reuse rule (T30): the JWT route may repeat a code once from the same address", async () => {
    const f = await coreFixture();
    const enrollment = await f.ctx.totp.begin(f.adminP, "Cairn");
    const secret = Buffer.from(base32Decode(enrollment.secret));
    await f.ctx.totp.confirm(f.adminP, totpCode(secret, f.clock.now()));
    f.clock.advance(60_000);
    const code = totpCode(secret, f.clock.now());
    expect(await codeOf(f.ctx.auth.signIn("admin@example.com", "correct horse battery", null, "10.0.0.1", "jwt"))).toBe("TOTP_REQUIRED");
    expect(await codeOf(f.ctx.auth.signIn("admin@example.com", "correct horse battery", code, "10.0.0.1", "jwt"))).toBeUndefined();
    expect(await codeOf(f.ctx.auth.signIn("admin@example.com", "correct horse battery", code, "10.0.0.1", "jwt"))).toBeUndefined();
    expect(await codeOf(f.ctx.auth.signIn("admin@example.com", "correct horse battery", code, "10.0.0.1", "jwt"))).toBe("TOTP_INVALID");
    expect(await codeOf(f.ctx.auth.signIn("admin@example.com", "correct horse battery", code, "10.0.0.2", "jwt"))).toBe("TOTP_INVALID");
    // the console never accepts a spent code; a code of the previous step is accepted once
    f.clock.advance(60_000);
    const prev = totpCode(secret, f.clock.now() - 30_000);
    expect(await codeOf(f.ctx.auth.signIn("admin@example.com", "correct horse battery", prev, "10.0.0.3", "session"))).toBeUndefined();
    expect(await codeOf(f.ctx.auth.signIn("admin@example.com", "correct horse battery", prev, "10.0.0.3", "session"))).toBe("TOTP_INVALID");
    // two steps back is too old
    f.clock.advance(300_000);
    expect(await codeOf(f.ctx.auth.signIn("admin@example.com", "correct horse battery", totpCode(secret, f.clock.now() - 60_000), "10.0.0.3", "session"))).toBe(
      "TOTP_INVALID",
    );
    // Basic authentication is refused once two-factor is on
    expect(await codeOf(f.ctx.auth.signIn("admin@example.com", "correct horse battery", null, "10.0.0.4", "basic"))).toBe("TOTP_REQUIRED");
  });
});

function base32Decode(s: string): number[] {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const c of s.replace(/=+$/, "")) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return out;
}

describe("registration keys (T26, the registration half is the devices part's)", () => {
  it("finds the org of a key in constant time and refuses rotated keys and closed orgs alike", async () => {
    const f = await coreFixture();
    const a = await f.org("Dept A", f.root);
    expect((await f.ctx.orgs.byRegistrationKey(a.registrationKey)).orgId).toBe(a.orgId);
    expect((await f.ctx.orgs.byRegistrationKey(a.registrationKey.toLowerCase())).orgId).toBe(a.orgId);
    expect(await codeOf(f.ctx.orgs.byRegistrationKey("AAAA-BBBB-CCCC-DDDD"))).toBe("REGISTRATION_KEY_INVALID");
    expect(await codeOf(f.ctx.orgs.byRegistrationKey(f.root.registrationKey.replace(/.$/, "#")))).toBe("REGISTRATION_KEY_INVALID");
    const rotated = await f.ctx.orgs.rotateRegistrationKey(f.adminP, a.orgId);
    expect(rotated.registrationKey).not.toBe(a.registrationKey);
    expect(await codeOf(f.ctx.orgs.byRegistrationKey(a.registrationKey))).toBe("REGISTRATION_KEY_INVALID");
    expect((await f.ctx.orgs.byRegistrationKey(rotated.registrationKey)).orgId).toBe(a.orgId);
    await f.ctx.orgs.setBlocked(f.adminP, a.orgId, true);
    expect(await codeOf(f.ctx.orgs.byRegistrationKey(rotated.registrationKey))).toBe("REGISTRATION_KEY_INVALID");
  });
});
