/**
 * Secrets never reach the logs (DECISIONS.md, CONVENTIONS.md B7): a debug-level authority signs
 * users in with passwords, TOTP headers, JWTs, session cookies and CSRF tokens, and the captured
 * log holds none of them.
 */
import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { LOG_REDACT_PATHS } from "../src/index.js";
import { startTestAuthority } from "../src/testing.js";
import { tokenFor } from "./api-fixture.js";

describe("logs", () => {
  it("hold no password, token, cookie or CSRF token", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = pino({ level: "trace", redact: { paths: [...LOG_REDACT_PATHS], censor: "[redacted]" } }, sink);
    const a = await startTestAuthority({ logger });
    try {
      const token = await tokenFor(a, a.adminUsername, a.adminPassword);
      await a.client.request("GET", "/api/User/my", { bearer: token });
      await a.client.request("GET", "/c42api/v3/auth/jwt", { basic: [a.adminUsername, "a wrong secret password"], headers: { "totp-auth": "123456" } });
      const login = await a.client.request("POST", "/api/v1/session", { body: { username: a.adminUsername, password: a.adminPassword } });
      const cookie = ((login.headers["set-cookie"] as string[])[0] ?? "").split(";")[0] as string;
      const csrf = (login.json as { data: { csrfToken: string } }).data.csrfToken;
      await a.client.request("PUT", "/api/OrgBlock/1", { headers: { cookie, "x-csrf-token": csrf } });
      const log = lines.join("");
      expect(log).toContain('"msg":"listening"');
      expect(log.length).toBeGreaterThan(1000);
      for (const secret of [
        a.adminPassword,
        "a wrong secret password",
        token,
        cookie.split("=")[1] as string,
        csrf,
        Buffer.from(`${a.adminUsername}:${a.adminPassword}`).toString("base64"),
      ]) {
        expect(log.includes(secret), `the log holds ${secret.slice(0, 12)}…`).toBe(false);
      }
    } finally {
      await a.dispose();
    }
  });
});
