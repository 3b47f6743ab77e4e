/**
 * T21 on server-side restore sessions: a wrong archive password gives the platform's error
 * (PRIVATE_PASSWORD_INVALID, API.md §8 step 5) and is rate limited per archive owner and per
 * source: past the limit the session is refused with 429 RATE_LIMITED before any scrypt runs,
 * even for the right password, with an answer that says nothing but "too many attempts"; after
 * the window (the injected clock) the right password opens the session again. Changing the
 * archive password (the device rewraps the user key) makes the old one stop working. Nothing of
 * the secrets reaches the log. The same limit applies to wrong custom keys.
 */
import { Writable } from "node:stream";
import * as protocol from "@cairn/protocol";
import { ManualClock, TEST_SCRYPT, wrapContext, wrapKeyWithPassword } from "@cairn/protocol";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { LOG_REDACT_PATHS } from "../src/index.js";
import { UnlockThrottle } from "../src/restores/unlock-throttle.js";
import { type Caller, createOrg, dataOf, errorName } from "./api-fixture.js";
import { type DeviceFixture, deviceFixture, refreshingCaller, type TestDevice } from "./device-fixture.js";

/** Counts the scrypt-based unwraps the authority runs (the function itself is unchanged). */
const scrypt = vi.hoisted(() => ({ calls: 0 }));
vi.mock("@cairn/protocol", async (importOriginal) => {
  const orig = await importOriginal<typeof protocol>();
  return {
    ...orig,
    unwrapKeyWithPassword: (...args: Parameters<typeof orig.unwrapKeyWithPassword>) => {
      scrypt.calls++;
      return orig.unwrapKeyWithPassword(...args);
    },
  };
});

const clock = new ManualClock(Date.UTC(2026, 0, 5, 9));
const lines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    lines.push(chunk.toString());
    done();
  },
});
const logger = pino({ level: "trace", redact: { paths: [...LOG_REDACT_PATHS], censor: "[redacted]" } }, sink);

const DEVICE_PASSWORD = "device-password-1";
const ARCHIVE_PASSWORD = "first archive password 1";
const NEW_ARCHIVE_PASSWORD = "second archive password 2";
const WRONG = (i: number) => `wrong guess number ${i} zz`;

let f: DeviceFixture;
let dev: TestDevice;
let other: TestDevice;
let custom: TestDevice;
let owner: Caller;
let otherOwner: Caller;

function protect(d: TestDevice, password: string): Buffer {
  return wrapKeyWithPassword(password, d.userKey as Buffer, wrapContext.userKey(d.userUid, 1), TEST_SCRYPT);
}

async function openSession(c: Caller, deviceGuid: string, privatePassword: string | null) {
  return c.send("POST", "/api/WebRestoreSession", { computerGuid: deviceGuid, dataKeyToken: null, privatePassword, encryptionKey: null });
}

beforeAll(async () => {
  f = await deviceFixture({ clock, logger });
  const org = await createOrg(f.admin, "Password org", f.a.orgUid);
  dev = await f.device({ username: "pw-owner@example.com", registrationKey: org.registrationKey, deviceName: "pw-laptop" });
  other = await f.device({ username: "pw-other@example.com", registrationKey: org.registrationKey, deviceName: "other-laptop" });
  // the devices protect their users' keys with archive passwords (raising escrow → password)
  await dev.link.peer.call("set-user-key", { keyPolicy: "password", wrappedUserKey: protect(dev, ARCHIVE_PASSWORD) });
  await other.link.peer.call("set-user-key", { keyPolicy: "password", wrappedUserKey: protect(other, ARCHIVE_PASSWORD) });
  custom = await f.device({ username: "ck-owner@example.com", registrationKey: org.registrationKey, deviceName: "ck-laptop" });
  await custom.link.peer.call("set-user-key", { keyPolicy: "custom", wrappedUserKey: null });
  owner = await refreshingCaller(f.a, "pw-owner@example.com", DEVICE_PASSWORD);
  otherOwner = await refreshingCaller(f.a, "pw-other@example.com", DEVICE_PASSWORD);
}, 60_000);
afterAll(async () => {
  await f?.dispose();
});

describe("T21: wrong archive passwords on a restore session", () => {
  it("opens with the right password; a wrong one is PRIVATE_PASSWORD_INVALID", async () => {
    expect(dataOf<{ webRestoreSessionId: string }>(await openSession(owner, dev.deviceGuid, ARCHIVE_PASSWORD)).webRestoreSessionId).toBeTruthy();
    const r = await openSession(owner, dev.deviceGuid, WRONG(0));
    expect(r.status).toBe(500);
    expect(errorName(r)).toBe("PRIVATE_PASSWORD_INVALID");
    expect(r.text).toContain("PRIVATE_PASSWORD_INVALID");
  });

  it("refuses attempts past the limit quickly with RATE_LIMITED and no scrypt, until the window passes", async () => {
    const answers: { status: number; name: string | undefined; text: string }[] = [];
    for (let i = 1; i <= 20; i++) {
      const r = await openSession(owner, dev.deviceGuid, WRONG(i));
      answers.push({ status: r.status, name: errorName(r), text: r.text });
    }
    // the first wrong tries say "wrong password"; the later ones "too many attempts"
    expect(answers.slice(0, 9).every((a) => a.status === 500 && a.name === "PRIVATE_PASSWORD_INVALID")).toBe(true);
    const limited = answers.filter((a) => a.name === "RATE_LIMITED");
    expect(limited.length).toBeGreaterThanOrEqual(10);
    expect(answers.slice(-10).every((a) => a.status === 429 && a.name === "RATE_LIMITED")).toBe(true);
    for (const a of limited) {
      // nothing about the archive, its key or the guess
      expect(a.text).not.toContain("PRIVATE_PASSWORD_INVALID");
      expect(a.text).not.toContain(dev.deviceGuid);
      expect(a.text).not.toContain(dev.archiveGuid as string);
      expect(a.text).not.toMatch(/wrong guess/);
    }
    // a refused attempt derives no key: not even the right password is tried, and it is quick
    const before = scrypt.calls;
    const started = performance.now();
    for (let i = 0; i < 5; i++) {
      const r = await openSession(owner, dev.deviceGuid, ARCHIVE_PASSWORD);
      expect(r.status).toBe(429);
      expect(errorName(r)).toBe("RATE_LIMITED");
    }
    expect(scrypt.calls).toBe(before);
    expect((performance.now() - started) / 5).toBeLessThan(500);
    // once the window has passed the right password opens the session again
    clock.advance(16 * 60_000);
    const back = dataOf<{ webRestoreSessionId: string }>(await openSession(owner, dev.deviceGuid, ARCHIVE_PASSWORD));
    expect(back.webRestoreSessionId).toBeTruthy();
    expect(scrypt.calls).toBe(before + 1);
  });

  it("limits per archive owner, whoever the caller (an administrator guessing the owner's password)", async () => {
    clock.advance(16 * 60_000);
    for (let i = 0; i < 10; i++) await openSession(f.admin, other.deviceGuid, WRONG(100 + i));
    const r = await openSession(otherOwner, other.deviceGuid, ARCHIVE_PASSWORD);
    expect(r.status).toBe(429);
    expect(errorName(r)).toBe("RATE_LIMITED");
    // the first owner's archive is not affected by the second owner's lock
    clock.advance(16 * 60_000);
    expect((await openSession(owner, dev.deviceGuid, ARCHIVE_PASSWORD)).status).toBe(200);
    expect((await openSession(otherOwner, other.deviceGuid, ARCHIVE_PASSWORD)).status).toBe(200);
  });

  it("after an archive password change the old password no longer opens a session", async () => {
    clock.advance(16 * 60_000);
    await dev.link.peer.call("set-user-key", { keyPolicy: "password", wrappedUserKey: protect(dev, NEW_ARCHIVE_PASSWORD) });
    const old = await openSession(owner, dev.deviceGuid, ARCHIVE_PASSWORD);
    expect(old.status).toBe(500);
    expect(errorName(old)).toBe("PRIVATE_PASSWORD_INVALID");
    expect(dataOf<{ webRestoreSessionId: string }>(await openSession(owner, dev.deviceGuid, NEW_ARCHIVE_PASSWORD)).webRestoreSessionId).toBeTruthy();
    // the device cannot go back below the password policy (T21: downgrade refused)
    await expect(dev.link.peer.call("set-user-key", { keyPolicy: "escrow", wrappedUserKey: null })).rejects.toMatchObject({ code: "KEY_POLICY_DOWNGRADE" });
    expect((await openSession(owner, dev.deviceGuid, NEW_ARCHIVE_PASSWORD)).status).toBe(200);
  });

  it("limits wrong custom keys the same way", async () => {
    clock.advance(16 * 60_000);
    const send = (encryptionKey: string) =>
      f.admin.send("POST", "/api/WebRestoreSession", { computerGuid: custom.deviceGuid, dataKeyToken: null, privatePassword: null, encryptionKey });
    const right = (custom.userKey as Buffer).toString("hex");
    expect((await send(right)).status).toBe(200);
    const names: (string | undefined)[] = [];
    for (let i = 0; i < 12; i++) names.push(errorName(await send(protocol.generateKey().toString("hex"))));
    expect(names.slice(0, 10)).toEqual(Array(10).fill("CUSTOM_KEY_INVALID"));
    expect(names.slice(10)).toEqual(["RATE_LIMITED", "RATE_LIMITED"]);
    expect(errorName(await send(right))).toBe("RATE_LIMITED");
    clock.advance(16 * 60_000);
    expect((await send(right)).status).toBe(200);
  });

  it("logs none of the passwords or keys tried", () => {
    const log = lines.join("");
    expect(log).toContain("wrong archive secret for a restore session");
    for (const secret of [ARCHIVE_PASSWORD, NEW_ARCHIVE_PASSWORD, WRONG(0), WRONG(7), WRONG(20), WRONG(105), (custom.userKey as Buffer).toString("hex")])
      expect(log.includes(secret), `the log holds ${secret}`).toBe(false);
  });
});

describe("the unlock limiter (T21)", () => {
  it("counts per archive owner and per source address in a sliding window on the injected clock", () => {
    const c = new ManualClock(0);
    const t = new UnlockThrottle(c, { maxFailuresPerOwner: 3, maxFailuresPerSource: 5, windowMs: 60_000 });
    for (let i = 0; i < 3; i++) t.fail(1, "10.0.0.1");
    expect(() => t.check(1, "10.0.0.9")).toThrow(expect.objectContaining({ code: "RATE_LIMITED" }));
    expect(() => t.check(2, "10.0.0.9")).not.toThrow();
    // one source guessing at many owners is stopped too
    t.fail(2, "10.0.0.1");
    t.fail(3, "10.0.0.1");
    expect(() => t.check(4, "10.0.0.1")).toThrow(expect.objectContaining({ code: "RATE_LIMITED" }));
    expect(() => t.check(4, "10.0.0.2")).not.toThrow();
    c.advance(60_001);
    expect(() => t.check(1, "10.0.0.1")).not.toThrow();
    // the right secret clears the owner's count
    for (let i = 0; i < 2; i++) t.fail(5, "10.0.0.3");
    t.succeed(5);
    t.fail(5, "10.0.0.3");
    expect(() => t.check(5, "10.0.0.4")).not.toThrow();
  });
});
