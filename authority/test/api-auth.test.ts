/**
 * API.md §2 through a real HTTPS listener: py42's sign-in sequence and its quirks, TOTP, Basic,
 * console sessions with CSRF (T31), token replay (T28), API tokens.
 */
import { ManualClock } from "@cairn/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { totpCode } from "../src/auth/totp.js";
import { startTestAuthority, type TestAuthority } from "../src/testing.js";
import { caller, createOrg, createUser, dataOf, errorName, tokenFor } from "./api-fixture.js";

const clock = new ManualClock(Date.UTC(2026, 5, 1, 12, 0, 0));
let a: TestAuthority;
beforeAll(async () => {
  a = await startTestAuthority({ clock });
});
afterAll(async () => {
  await a.dispose();
});

function base32(s: string): Buffer {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const c of s) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

function cookieOf(setCookie: string | string[] | undefined): string {
  const line = (Array.isArray(setCookie) ? setCookie : [setCookie ?? ""]).find((c) => c.startsWith("cairn_session=")) ?? "";
  return line.split(";")[0] as string;
}

describe("py42 sign-in (API.md §2.1, §2.2)", () => {
  it("from_local_account makes exactly two requests: the JWT and /api/User/my", async () => {
    const py = a.py42();
    const me = (await py.data("GET", "/api/User/my")) as Record<string, unknown>;
    expect(me.username).toBe(a.adminUsername);
    expect(py.log).toEqual([
      { method: "GET", path: "/c42api/v3/auth/jwt", status: 200 },
      { method: "GET", path: "/api/User/my", status: 200 },
    ]);
  });

  it("a wrong password is 401 twice (py42 repeats), then LoginConfiguration says LOCAL", async () => {
    const py = a.py42(a.adminUsername, "wrong password");
    await expect(py.data("GET", "/api/User/my")).rejects.toThrow(/could not get a JWT: 401/);
    expect(py.log.map((l) => l.status)).toEqual([401, 401]);
    const r = await a.client.request("GET", `/c42api/v3/LoginConfiguration?username=${encodeURIComponent(a.adminUsername)}`);
    expect(dataOf(r)).toEqual({ loginType: "LOCAL" });
    expect(dataOf(await a.client.request("GET", "/c42api/v3/LoginConfiguration?username=nobody%40example.com"))).toEqual({ loginType: "LOCAL_2FA" });
  });

  it("answers INVALID_CREDENTIALS alike for an unknown user and a wrong password", async () => {
    const unknown = await a.client.request("GET", "/c42api/v3/auth/jwt?useBody=True", { basic: ["nobody@example.com", "x"] });
    const wrong = await a.client.request("GET", "/c42api/v3/auth/jwt?useBody=True", { basic: [a.adminUsername, "x"] });
    expect(unknown.status).toBe(401);
    expect(unknown.text).toBe(wrong.text);
  });

  it("an expired JWT gets 401; py42 drops it, fetches a new one and repeats the call once", async () => {
    const py = a.py42();
    await py.data("GET", "/api/User/my");
    clock.advance(61 * 60_000);
    await py.data("GET", "/api/Org/my");
    expect(py.log.slice(2).map((l) => `${l.method} ${l.path} ${l.status}`)).toEqual([
      "GET /api/Org/my 401",
      "GET /c42api/v3/auth/jwt 200",
      "GET /api/Org/my 200",
    ]);
  });

  it("refuses tokens of a blocked or deactivated user at once, and their sign-in", async () => {
    const admin = await caller(a, a.adminUsername, a.adminPassword);
    const u = await createUser(admin, a.orgUid, "blockme@example.com");
    const token = await tokenFor(a, "blockme@example.com", "password123");
    expect((await a.client.request("GET", "/api/User/my", { bearer: token })).status).toBe(200);
    const blocked = await a.client.request("PUT", `/api/UserBlock/${u.userId}`, { bearer: admin.token });
    expect(blocked.status).toBe(204);
    expect(blocked.text).toBe("");
    expect((await a.client.request("GET", "/api/User/my", { bearer: token })).status).toBe(401);
    expect((await a.client.request("GET", "/c42api/v3/auth/jwt", { basic: ["blockme@example.com", "password123"] })).status).toBe(401);
    expect((await a.client.request("DELETE", `/api/UserBlock/${u.userId}`, { bearer: admin.token })).status).toBe(204);
    const again = await tokenFor(a, "blockme@example.com", "password123");
    expect((await a.client.request("PUT", `/api/UserDeactivation/${u.userId}`, { bearer: admin.token, body: { blockUser: null } })).status).toBe(204);
    expect((await a.client.request("GET", "/api/User/my", { bearer: again })).status).toBe(401);
  });

  it("refuses sign-in of users in a blocked org (the block covers the subtree)", async () => {
    const admin = await caller(a, a.adminUsername, a.adminPassword);
    const parent = await createOrg(admin, "Blocked parent", a.orgUid);
    const child = await createOrg(admin, "Blocked child", parent.orgUid);
    await createUser(admin, child.orgUid, "inchild@example.com");
    await tokenFor(a, "inchild@example.com", "password123");
    expect((await admin.send("PUT", `/api/OrgBlock/${parent.orgId}`)).status).toBe(204);
    expect((await a.client.request("GET", "/c42api/v3/auth/jwt", { basic: ["inchild@example.com", "password123"] })).status).toBe(401);
    expect((await admin.send("DELETE", `/api/OrgBlock/${parent.orgId}`)).status).toBe(204);
    await tokenFor(a, "inchild@example.com", "password123");
  });

  it("kills tokens issued before a password change (T28)", async () => {
    const admin = await caller(a, a.adminUsername, a.adminPassword);
    const u = await createUser(admin, a.orgUid, "pwchange@example.com");
    const old = await tokenFor(a, "pwchange@example.com", "password123");
    // the user's API token for scripts dies with the password too
    const own = await caller(a, "pwchange@example.com", "password123");
    const script = dataOf<{ token: string; tokenId: number }>(await own.send("POST", "/api/v1/api-tokens", { name: "nightly" })).token;
    expect((await a.client.request("GET", "/api/User/my", { bearer: script })).status).toBe(200);
    const r = await admin.send("PUT", `/api/User/${u.userUid}?idType=uid`, {
      username: null,
      email: null,
      password: "new password 456",
      firstName: null,
      lastName: null,
      notes: null,
      quotaInBytes: null,
    });
    expect(r.status, r.text).toBe(200);
    expect((await a.client.request("GET", "/api/User/my", { bearer: old })).status).toBe(401);
    expect((await a.client.request("GET", "/api/User/my", { bearer: script })).status).toBe(401);
    await tokenFor(a, "pwchange@example.com", "new password 456");
  });

  it("accepts Basic on /api for users without two-factor", async () => {
    const r = await a.client.request("GET", "/api/User/my", { basic: [a.adminUsername, a.adminPassword] });
    expect(dataOf(r).username).toBe(a.adminUsername);
  });
});

describe("two-factor (T30, API.md §2.2 totp-auth)", () => {
  it("requires the code, repeats it once on the JWT route, and refuses Basic", async () => {
    const admin = await caller(a, a.adminUsername, a.adminPassword);
    await createUser(admin, a.orgUid, "totp@example.com");
    const me = await caller(a, "totp@example.com", "password123");
    const enroll = dataOf<{ secret: string; otpauthUri: string; qrCodeDataUrl: string }>(await me.send("POST", "/api/v1/totp"));
    expect(enroll.otpauthUri).toMatch(/^otpauth:\/\/totp\//);
    expect(enroll.qrCodeDataUrl).toMatch(/^data:image\/png;base64,/);
    const secret = base32(enroll.secret);
    // not yet on: enrollment needs a verified code
    expect(dataOf(await a.client.request("GET", "/c42api/v3/LoginConfiguration?username=totp%40example.com"))).toEqual({ loginType: "LOCAL" });
    const bad = await me.send("POST", "/api/v1/totp/verify", { code: "000000" });
    expect(bad.status, bad.text).toBe(401);
    const enrolledWith = totpCode(secret, clock.now());
    expect((await me.send("POST", "/api/v1/totp/verify", { code: enrolledWith })).status).toBe(204);
    expect(dataOf(await a.client.request("GET", "/c42api/v3/LoginConfiguration?username=totp%40example.com"))).toEqual({ loginType: "LOCAL_2FA" });
    // the code spent on enrollment mints no JWT (only a JWT's own code may be repeated once)
    const replayed = await a.client.request("GET", "/c42api/v3/auth/jwt", {
      basic: ["totp@example.com", "password123"],
      headers: { "totp-auth": enrolledWith },
    });
    expect(errorName(replayed)).toBe("TOTP_INVALID");
    clock.advance(90_000);
    const noCode = await a.client.request("GET", "/c42api/v3/auth/jwt", { basic: ["totp@example.com", "password123"] });
    expect(noCode.status).toBe(401);
    expect(errorName(noCode)).toBe("TOTP_REQUIRED");
    const code = totpCode(secret, clock.now());
    const py = a.py42("totp@example.com", "password123", code);
    expect(((await py.data("GET", "/api/User/my")) as { username: string }).username).toBe("totp@example.com");
    // py42 renews with the same fixed code: one more token from the same address, then no more
    await tokenFor(a, "totp@example.com", "password123", code);
    const third = await a.client.request("GET", "/c42api/v3/auth/jwt", { basic: ["totp@example.com", "password123"], headers: { "totp-auth": code } });
    expect(errorName(third)).toBe("TOTP_INVALID");
    const basic = await a.client.request("GET", "/api/User/my", { basic: ["totp@example.com", "password123"] });
    expect(basic.status).toBe(401);
    expect(errorName(basic)).toBe("TOTP_REQUIRED");
    // turning it off needs the password and a fresh code
    clock.advance(60_000);
    const py2 = await tokenFor(a, "totp@example.com", "password123", totpCode(secret, clock.now()));
    clock.advance(60_000);
    expect((await a.client.request("DELETE", "/api/v1/totp", { bearer: py2, body: { password: "wrong", code: totpCode(secret, clock.now()) } })).status).toBe(
      401,
    );
    expect(
      (await a.client.request("DELETE", "/api/v1/totp", { bearer: py2, body: { password: "password123", code: totpCode(secret, clock.now()) } })).status,
    ).toBe(204);
    expect(dataOf(await a.client.request("GET", "/c42api/v3/LoginConfiguration?username=totp%40example.com"))).toEqual({ loginType: "LOCAL" });
  });

  it("gives an unenrolled user of a two-factor org an enroll-only console session", async () => {
    const admin = await caller(a, a.adminUsername, a.adminPassword);
    const org = await createOrg(admin, "Two-factor org", a.orgUid);
    const put = await admin.send("PUT", `/api/v1/orgs/${org.orgId}/settings`, { groups: { security: { values: { twoFactorRequired: true } } } });
    expect(put.status, put.text).toBe(200);
    await createUser(admin, org.orgUid, "enroll@example.com");
    expect(errorName(await a.client.request("GET", "/c42api/v3/auth/jwt", { basic: ["enroll@example.com", "password123"] }))).toBe("TOTP_REQUIRED");
    const login = await a.client.request("POST", "/api/v1/session", { body: { username: "enroll@example.com", password: "password123", totp: null } });
    const s = dataOf<{ csrfToken: string; enrollOnly: boolean }>(login);
    expect(s.enrollOnly).toBe(true);
    const cookie = cookieOf(login.headers["set-cookie"]);
    const headers = { cookie, "x-csrf-token": s.csrfToken };
    expect((await a.client.request("GET", "/api/Org/my", { headers })).status).toBe(403);
    const enroll = dataOf<{ secret: string }>(await a.client.request("POST", "/api/v1/totp", { headers }));
    expect((await a.client.request("POST", "/api/v1/totp/verify", { headers, body: { code: totpCode(base32(enroll.secret), clock.now()) } })).status).toBe(204);
    expect((await a.client.request("GET", "/api/Org/my", { headers })).status).toBe(200);
  });
});

describe("console sessions (T31, T28)", () => {
  it("sets an HttpOnly, Secure, SameSite=Strict cookie and demands the CSRF token on changes", async () => {
    const login = await a.client.request("POST", "/api/v1/session", { body: { username: a.adminUsername, password: a.adminPassword, totp: null } });
    const s = dataOf<{ csrfToken: string; user: { username: string; roles: string[] } }>(login);
    expect(s.user.roles).toContain("SYSADMIN");
    const setCookie = (login.headers["set-cookie"] as string[]).find((c) => c.startsWith("cairn_session=")) ?? "";
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/Secure/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    const cookie = cookieOf(login.headers["set-cookie"]);
    expect(dataOf(await a.client.request("GET", "/api/v1/session", { headers: { cookie } })).csrfToken).toBe(s.csrfToken);
    const body = { orgName: "Made by the console", orgExtRef: null, notes: null, parentOrgUid: null };
    // no token, a wrong token, a foreign Origin, a cross-site fetch: all refused, nothing made
    expect((await a.client.request("POST", "/api/Org", { headers: { cookie }, body })).status).toBe(403);
    expect((await a.client.request("POST", "/api/Org", { headers: { cookie, "x-csrf-token": "nope" }, body })).status).toBe(403);
    expect(
      (await a.client.request("POST", "/api/Org", { headers: { cookie, "x-csrf-token": s.csrfToken, origin: "http://localhost:9999" }, body })).status,
    ).toBe(403);
    expect(
      (await a.client.request("POST", "/api/Org", { headers: { cookie, "x-csrf-token": s.csrfToken, "sec-fetch-site": "cross-site" }, body })).status,
    ).toBe(403);
    const admin = await caller(a, a.adminUsername, a.adminPassword);
    expect((dataOf(await admin.get("/api/Org?q=Made%20by&pgNum=1&pgSize=10")) as { totalCount: number }).totalCount).toBe(0);
    const ok = await a.client.request("POST", "/api/Org", {
      headers: { cookie, "x-csrf-token": s.csrfToken, origin: new URL(a.url).origin, "sec-fetch-site": "same-origin" },
      body,
    });
    expect(ok.status, ok.text).toBe(200);
    // a cross-site sign-in attempt is refused too
    expect(
      (
        await a.client.request("POST", "/api/v1/session", {
          headers: { origin: "http://localhost:9999" },
          body: { username: a.adminUsername, password: a.adminPassword },
        })
      ).status,
    ).toBe(403);
    // sign out: the cookie is dead, replaying it gets 401
    expect((await a.client.request("DELETE", "/api/v1/session", { headers: { cookie, "x-csrf-token": s.csrfToken } })).status).toBe(204);
    expect((await a.client.request("GET", "/api/Org/my", { headers: { cookie } })).status).toBe(401);
  });

  it("ends sessions after 30 idle minutes", async () => {
    const login = await a.client.request("POST", "/api/v1/session", { body: { username: a.adminUsername, password: a.adminPassword } });
    const cookie = cookieOf(login.headers["set-cookie"]);
    clock.advance(31 * 60_000);
    expect((await a.client.request("GET", "/api/v1/session", { headers: { cookie } })).status).toBe(401);
  });
});

describe("API tokens", () => {
  it("creates, uses, lists and revokes a token", async () => {
    const admin = await caller(a, a.adminUsername, a.adminPassword);
    const t = dataOf<{ token: string; tokenId: number }>(await admin.send("POST", "/api/v1/api-tokens", { name: "backup script" }));
    expect(t.token).toMatch(/^cna_/);
    expect(dataOf(await a.client.request("GET", "/api/User/my", { bearer: t.token })).username).toBe(a.adminUsername);
    const list = dataOf<{ apiTokens: { tokenId: number; name: string }[] }>(await admin.get("/api/v1/api-tokens"));
    expect(list.apiTokens.map((x) => x.name)).toContain("backup script");
    expect(JSON.stringify(list)).not.toContain(t.token);
    expect((await admin.send("DELETE", `/api/v1/api-tokens/${t.tokenId}`)).status).toBe(204);
    expect((await a.client.request("GET", "/api/User/my", { bearer: t.token })).status).toBe(401);
  });
});
