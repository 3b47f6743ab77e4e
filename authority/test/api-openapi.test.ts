/**
 * The served OpenAPI document parses as OpenAPI 3 and lists exactly the routes the server
 * answers (every method and path both ways), each with a summary.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAuthority, type TestAuthority } from "../src/testing.js";
import { caller } from "./api-fixture.js";

let a: TestAuthority;
beforeAll(async () => {
  a = await startTestAuthority();
});
afterAll(async () => {
  await a.dispose();
});

const toOpenApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, "{$1}");

interface Doc {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, { summary?: string; responses?: unknown; security?: unknown[] }>>;
  components: { securitySchemes: Record<string, unknown> };
}

describe("OpenAPI document", () => {
  it("parses as OpenAPI 3 and lists every route the server answers, and nothing else", async () => {
    const r = await a.client.request("GET", "/api/v1/openapi.json");
    expect(r.status).toBe(200);
    const doc = r.json as Doc;
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(doc.info.title).toBeTruthy();
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(["basic", "bearer", "session"]);
    const documented = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        documented.add(`${method.toUpperCase()} ${path}`);
        expect(op.summary, `${method} ${path} has a summary`).toBeTruthy();
        expect(op.responses, `${method} ${path} has responses`).toBeTruthy();
      }
    }
    const served = new Set(a.routes.filter((x) => !x.hidden).map((x) => `${x.method} ${toOpenApiPath(x.url)}`));
    expect([...served].filter((x) => !documented.has(x))).toEqual([]);
    expect([...documented].filter((x) => !served.has(x))).toEqual([]);
    expect(served.size).toBeGreaterThan(40);
  });

  it("answers every documented operation (no route-not-found for any of them)", async () => {
    const admin = await caller(a, a.adminUsername, a.adminPassword);
    const doc = (await a.client.request("GET", "/api/v1/openapi.json")).json as Doc;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) {
        const concrete = path.replace(/\{[^}]+\}/g, "999999");
        if (method === "delete" && concrete === "/api/v1/session") continue;
        const res = await a.client.request(method.toUpperCase(), concrete, { bearer: admin.token, ...(method === "get" ? {} : { body: {} }) });
        expect(res.text.includes("No such route"), `${method} ${concrete} → ${res.status} ${res.text.slice(0, 80)}`).toBe(false);
      }
    }
  });
});
