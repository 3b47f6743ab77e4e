/**
 * Storage through the real HTTPS listener and the node control channel: destinations (the first
 * one offered system-wide with auto-start), one-time enroll keys (hashed, single use, expiring;
 * from the API and from `createEnrollKey` while the authority serves), enrollment and
 * announce over `wss://A/v1/storenode`, servers and store points with their flags, the upgrade
 * checks (426, 401, T31's foreign Origin 403), and who may see and change storage.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { HOUR_MS, ManualClock, NODE_CHANNEL } from "@cairn/protocol";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEnrollKey } from "../src/storage/enroll-keys.js";
import { startTestAuthority, type TestAuthority } from "../src/testing.js";
import { type Caller, caller, createUser, dataOf, errorName } from "./api-fixture.js";
import { fakeNode, openSocket, peerOn, refusalOf, storePoints } from "./ws-peers.js";

const clock = new ManualClock(Date.UTC(2026, 3, 1, 9, 0, 0));
let a: TestAuthority;
let admin: Caller;
beforeAll(async () => {
  a = await startTestAuthority({ clock });
  admin = await caller(a, a.adminUsername, a.adminPassword);
});
afterAll(async () => {
  await a.dispose();
});

interface Dest {
  destinationId: number;
  guid: string;
  destinationName: string;
  type: string;
  offeredSystemWide: boolean;
  autoStart: boolean;
  serverCount: number;
  storePointCount: number;
}

describe("destinations", () => {
  it("offers a fresh authority's first destination system-wide with auto-start, and no later one", async () => {
    expect(dataOf<{ totalCount: number }>(await admin.get("/api/v1/destinations?pgNum=1&pgSize=10")).totalCount).toBe(0);
    const first = dataOf<Dest>(await admin.send("POST", "/api/v1/destinations", { destinationName: "Primary", providerKey: null }));
    expect(first).toMatchObject({ destinationName: "Primary", type: "CLUSTER", offeredSystemWide: true, autoStart: true, serverCount: 0, storePointCount: 0 });
    expect(first.guid).toMatch(/^[1-9][0-9]{5,19}$/);
    const second = dataOf<Dest>(await admin.send("POST", "/api/v1/destinations", { destinationName: "Second", providerKey: null }));
    expect(second).toMatchObject({ offeredSystemWide: false, autoStart: false });
    const offers = dataOf<{ destinations: { guid: string; offered: boolean; autoStart: boolean }[] }>(await admin.get("/api/v1/settings/destinations"));
    expect(offers.destinations.map((d) => [d.guid, d.offered, d.autoStart])).toEqual([
      [first.guid, true, true],
      [second.guid, false, false],
    ]);
    // every inheriting org offers it (the platform view agrees)
    const org = dataOf<{ settings: { destinations: { guid: string }[] } }>(await admin.get("/api/Org/my?incSettings=True"));
    expect(org.settings.destinations.map((d) => d.guid)).toEqual([first.guid]);
  });

  it("refuses a duplicate name (409) and a bad provider key (400 PROVIDER_KEY_INVALID), creating nothing", async () => {
    const dup = await admin.send("POST", "/api/v1/destinations", { destinationName: "primary", providerKey: null });
    expect(dup.status).toBe(409);
    const bad = await admin.send("POST", "/api/v1/destinations", { destinationName: "Broken", providerKey: "not-a-provider-key" });
    expect(bad.status).toBe(400);
    expect(errorName(bad)).toBe("PROVIDER_KEY_INVALID");
    expect((await admin.send("POST", "/api/v1/destinations", { destinationName: "", providerKey: null })).status).toBe(400);
    const names = dataOf<{ destinations: Dest[] }>(await admin.get("/api/v1/destinations")).destinations.map((d) => d.destinationName);
    expect(names).toEqual(["Primary", "Second"]);
  });

  it("renames, and removes a destination (it is offered nowhere any more)", async () => {
    const d = dataOf<Dest>(await admin.send("POST", "/api/v1/destinations", { destinationName: "Temp", providerKey: null }));
    dataOf(await admin.send("PUT", "/api/v1/settings/destinations", { destinations: [{ destinationId: d.destinationId, offered: true, autoStart: false }] }));
    expect(dataOf<Dest>(await admin.send("PUT", `/api/v1/destinations/${d.destinationId}`, { destinationName: "Temporary" })).destinationName).toBe(
      "Temporary",
    );
    expect((await admin.send("DELETE", `/api/v1/destinations/${d.destinationId}`)).status).toBe(204);
    expect((await admin.get(`/api/v1/destinations/${d.destinationId}`)).status).toBe(404);
    const offers = dataOf<{ destinations: { guid: string; offered: boolean }[] }>(await admin.get("/api/v1/settings/destinations"));
    expect(offers.destinations.some((x) => x.guid === d.guid)).toBe(false);
    // its name is free again
    expect((await admin.send("POST", "/api/v1/destinations", { destinationName: "Temporary", providerKey: null })).status).toBe(200);
    // restore the offers the other tests expect
    const primary = dataOf<{ destinations: Dest[] }>(await admin.get("/api/v1/destinations")).destinations[0] as Dest;
    dataOf(
      await admin.send("PUT", "/api/v1/settings/destinations", { destinations: [{ destinationId: primary.destinationId, offered: true, autoStart: true }] }),
    );
  });
});

describe("enroll keys and the node channel", () => {
  const primary = async () => dataOf<{ destinations: Dest[] }>(await admin.get("/api/v1/destinations")).destinations[0] as Dest;

  it("issues a one-time key, stored only hashed, with what storenode init needs", async () => {
    const d = await primary();
    const k = dataOf<{ enrollKey: string; destinationId: number; expiresAt: string; authorityUrl: string; authorityFingerprint: string }>(
      await admin.send("POST", "/api/v1/enroll-keys", { destinationId: d.destinationId }),
    );
    expect(k.enrollKey).toMatch(/^cne_[A-Za-z0-9_-]{43}$/);
    expect(k).toMatchObject({ destinationId: d.destinationId, authorityUrl: a.url, authorityFingerprint: a.fingerprint });
    expect(Date.parse(k.expiresAt)).toBe(clock.now() + 24 * HOUR_MS);
    const db = new Database(join(a.dataDir, "authority.db"), { readonly: true });
    const rows = db.prepare("SELECT key_hash FROM enroll_keys").all() as { key_hash: string }[];
    db.close();
    expect(rows.map((r) => r.key_hash)).toContain(createHash("sha256").update(k.enrollKey).digest("hex"));
    expect(JSON.stringify(rows).includes(k.enrollKey)).toBe(false);

    const node = await fakeNode(a, k.enrollKey, ["sp1", "sp2"]);
    const servers = dataOf<{ totalCount: number; servers: Record<string, unknown>[] }>(await admin.get(`/api/v1/servers?destinationId=${d.destinationId}`));
    expect(servers.servers.find((s) => s.guid === node.serverGuid)).toMatchObject({
      serverName: "fake-node",
      destinationId: d.destinationId,
      destinationName: "Primary",
      url: "wss://127.0.0.1:1",
      online: true,
      storePointCount: 2,
      isProvider: false,
    });
    const sps = dataOf<{ storePoints: Record<string, unknown>[] }>(await admin.get("/api/v1/store-points"));
    expect(sps.storePoints.filter((s) => node.storePointIds.includes(s.storePointId as number)).map((s) => s.storePointName)).toEqual(["sp1", "sp2"]);
    // a used key is spent
    const again = await openSocket(a, "/v1/storenode");
    const { peer } = peerOn(again, NODE_CHANNEL);
    await expect(
      peer.call("enroll", {
        enrollKey: k.enrollKey,
        name: "x",
        urls: ["wss://127.0.0.1:2"],
        fingerprint: "CD".repeat(32),
        storePoints: storePoints(["a"]),
        nodeVersion: "0",
      }),
    ).rejects.toMatchObject({ code: "ENROLL_KEY_INVALID" });
    again.close();
    node.close();
    await expect.poll(() => a.ctx.nodes.all().some((l) => l.serverGuid === node.serverGuid)).toBe(false);
  });

  it("refuses an expired key and a key for a provider destination", async () => {
    const d = await primary();
    const k = dataOf<{ enrollKey: string }>(await admin.send("POST", "/api/v1/enroll-keys", { destinationId: d.destinationId }));
    clock.advance(24 * HOUR_MS + 1);
    const ws = await openSocket(a, "/v1/storenode");
    const { peer } = peerOn(ws, NODE_CHANNEL);
    await expect(
      peer.call("enroll", {
        enrollKey: k.enrollKey,
        name: "late",
        urls: ["wss://127.0.0.1:2"],
        fingerprint: "CD".repeat(32),
        storePoints: storePoints(["a"]),
        nodeVersion: "0",
      }),
    ).rejects.toMatchObject({ code: "ENROLL_KEY_INVALID" });
    ws.close();
    admin = await caller(a, a.adminUsername, a.adminPassword); // the JWT expired with the clock
    expect((await admin.send("POST", "/api/v1/enroll-keys", { destinationId: 999_999 })).status).toBe(404);
  });

  it("issues keys from the command line's library while the authority serves the same data directory", async () => {
    const r = await createEnrollKey({ dataDir: a.dataDir, clock });
    expect(Object.keys(r).sort()).toEqual(["destinationGuid", "destinationName", "enrollKey", "expiresAt"]);
    expect(r).toMatchObject({ destinationName: "Primary", expiresAt: new Date(clock.now() + 24 * HOUR_MS).toISOString() });
    const node = await fakeNode(a, r.enrollKey);
    expect(a.ctx.nodes.all().some((l) => l.serverGuid === node.serverGuid)).toBe(true);
    node.close();
    const named = await createEnrollKey({ dataDir: a.dataDir, destination: "Branch storage", clock });
    expect(named.destinationName).toBe("Branch storage");
    expect(
      dataOf<{ destinations: Dest[] }>(await admin.get("/api/v1/destinations")).destinations.find((d) => d.destinationName === "Branch storage"),
    ).toMatchObject({
      type: "CLUSTER",
      offeredSystemWide: false,
    });
  });

  it("sets store point flags (placement honours them)", async () => {
    const sp = dataOf<{ storePoints: { storePointId: number }[] }>(await admin.get("/api/v1/store-points")).storePoints[0] as { storePointId: number };
    const r = dataOf(await admin.send("PUT", `/api/v1/store-points/${sp.storePointId}`, { acceptingNew: false }));
    expect(r).toMatchObject({ storePointId: sp.storePointId, acceptingNew: false, acceptingData: true });
    expect((await admin.send("PUT", `/api/v1/store-points/${sp.storePointId}`, { acceptingData: "no" })).status).toBe(400);
    dataOf(await admin.send("PUT", `/api/v1/store-points/${sp.storePointId}`, { acceptingNew: true }));
  });
});

describe("upgrade checks", () => {
  it("refuses an unknown node secret or device token (401), no common version (426) and a foreign Origin (403, T31)", async () => {
    for (const path of ["/v1/storenode", "/v1/agent"]) {
      const r401 = await refusalOf(openSocket(a, path, { bearer: "cnn_unknown-secret-000000000000000000000000" }));
      expect(r401.status, path).toBe(401);
      expect(JSON.parse(r401.body).error.code).toMatch(/UNAUTHORIZED/);
      const r426 = await refusalOf(openSocket(a, path, { protocols: ["cairn.v99"] }));
      expect(r426.status, path).toBe(426);
      expect(JSON.parse(r426.body).error.message).toContain("[99]");
      const r403 = await refusalOf(openSocket(a, path, { origin: "http://localhost:4321" }));
      expect(r403.status, path).toBe(403);
      const opaque = await refusalOf(openSocket(a, path, { origin: "null" }));
      expect(opaque.status, path).toBe(403);
    }
    // the same origin is fine (a console page could open it)
    const ok = await openSocket(a, "/v1/agent", { origin: a.url });
    ok.close();
  });
});

describe("who may see and change storage", () => {
  it("only all-organization administrators: an Org Admin sees nothing, a Cross Org Admin reads, only SYSADMIN/Customer Cloud Admin change", async () => {
    await createUser(admin, a.orgUid, "oa-storage@example.com", ["Org Admin"]);
    await createUser(admin, a.orgUid, "coa-storage@example.com", ["Cross Org Admin"]);
    const oa = await caller(a, "oa-storage@example.com", "password123");
    const coa = await caller(a, "coa-storage@example.com", "password123");
    for (const path of ["/api/v1/destinations", "/api/v1/servers", "/api/v1/store-points"]) {
      expect([403, 404]).toContain((await oa.get(path)).status);
      expect((await coa.get(path)).status).toBe(200);
    }
    expect((await coa.send("POST", "/api/v1/destinations", { destinationName: "Rogue", providerKey: null })).status).toBe(403);
    expect((await coa.send("POST", "/api/v1/enroll-keys", { destinationId: 1 })).status).toBe(403);
    expect([403, 404]).toContain((await oa.send("POST", "/api/v1/enroll-keys", { destinationId: 1 })).status);
    expect([403, 404]).toContain((await oa.send("DELETE", "/api/v1/destinations/1")).status);
  });
});
