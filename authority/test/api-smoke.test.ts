import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAuthority, type TestAuthority } from "../src/testing.js";

let a: TestAuthority;
beforeAll(async () => {
  a = await startTestAuthority();
});
afterAll(async () => {
  await a.dispose();
});

describe("smoke", () => {
  it("starts, signs in like py42, and answers /api/User/my", async () => {
    const py = a.py42();
    const me = (await py.data("GET", "/api/User/my")) as Record<string, unknown>;
    expect(me.username).toBe("admin@example.com");
    expect(py.log.map((l) => `${l.method} ${l.path} ${l.status}`)).toEqual(["GET /c42api/v3/auth/jwt 200", "GET /api/User/my 200"]);
  });

  it("answers unknown routes with the platform's error body", async () => {
    const r = await a.client.request("GET", "/api/Nope");
    expect(r.status).toBe(404);
    expect(r.json).toEqual([{ name: "NOT_FOUND", description: "No such route", objects: [] }]);
  });
});
