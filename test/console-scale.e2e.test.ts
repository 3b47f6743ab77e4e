/**
 * Issue 7's scale check: with 10,000 organizations and 100,000 devices, the organizations and
 * devices lists show their first page within 1 second of navigation in the browser (the lists
 * are paged on the server). The data is seeded straight into the authority's SQLite file between
 * `initAuthority` and `startAuthority` (one transaction, a few seconds); the authority then
 * serves it as it would any other.
 */
import { createHash } from "node:crypto";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConsoleEnv, startConsoleEnv } from "../authority/console/e2e/harness.js";

const ORGS = 10_000;
const DEVICES_PER_ORG = 10;

/** Finds the authority's database file in its data directory. */
function databaseFile(dataDir: string): string {
  const f = readdirSync(dataDir).find((n) => /\.(db|sqlite3?)$/.test(n));
  if (!f) throw new Error(`no SQLite file in ${dataDir}: ${readdirSync(dataDir).join(", ")}`);
  return join(dataDir, f);
}

/** 10,000 orgs under the top level, one user each, ten devices per user. */
function seed(dataDir: string): void {
  const db = new Database(databaseFile(dataDir));
  try {
    db.pragma("journal_mode = WAL");
    const top = db.prepare("SELECT org_id AS id, path FROM orgs WHERE parent_id IS NULL").get() as { id: number; path: string };
    const firstOrg = (db.prepare("SELECT MAX(org_id) AS m FROM orgs").get() as { m: number }).m + 1;
    const firstUser = (db.prepare("SELECT MAX(user_id) AS m FROM users").get() as { m: number }).m + 1;
    const now = Date.now();
    const org = db.prepare(
      "INSERT INTO orgs (org_id, org_uid, org_guid, parent_id, path, depth, name, registration_key, registration_key_hash, created_at, modified_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)",
    );
    const user = db.prepare(
      "INSERT INTO users (user_id, user_uid, org_id, username, username_key, email, created_at, modified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    const device = db.prepare(
      "INSERT INTO devices (device_guid, user_id, name, os_hostname, os_name, os_version, agent_version, created_at, modified_at) VALUES (?, ?, ?, ?, 'linux', '6.1', '0.1.0', ?, ?)",
    );
    db.transaction(() => {
      for (let i = 0; i < ORGS; i++) {
        const orgId = firstOrg + i;
        const key = (createHash("sha256").update(`seed-${i}`).digest("hex").slice(0, 16).toUpperCase().match(/.{4}/g) as string[]).join("-");
        org.run(
          orgId,
          String(810000000000000000n + BigInt(i)),
          String(820000000000000000n + BigInt(i)),
          top.id,
          `${top.path}${orgId}/`,
          `Team ${String(i).padStart(5, "0")}`,
          key,
          createHash("sha256").update(key).digest("hex"),
          now,
          now,
        );
        const userId = firstUser + i;
        const name = `user${i}@example.com`;
        user.run(userId, String(830000000000000000n + BigInt(i)), orgId, name, name, name, now, now);
        for (let d = 0; d < DEVICES_PER_ORG; d++) {
          const n = i * DEVICES_PER_ORG + d;
          device.run(String(840000000000000000n + BigInt(n)), userId, `host-${n}`, `host-${n}`, now, now);
        }
      }
    })();
  } finally {
    db.close();
  }
}

describe("console: 10,000 organizations and 100,000 devices", () => {
  let env: ConsoleEnv;

  beforeAll(async () => {
    env = await startConsoleEnv({ beforeStart: seed });
    await env.signIn();
  }, 120_000);
  afterAll(async () => {
    await env?.close();
  });

  it("shows the first page of the organizations list within 1 second of navigation", async () => {
    const { page } = env;
    await env.goto("#/storage/destinations");
    await page.getByRole("heading", { name: "Destinations" }).waitFor();
    const t0 = Date.now();
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Organizations" }).click();
    await page
      .getByTestId("page-range")
      .filter({ hasText: `of ${ORGS.toLocaleString("en-US")}` })
      .waitFor();
    await expect.poll(() => page.locator("[data-testid^=org-row-]").count()).toBe(51);
    const ms = Date.now() - t0;
    expect(ms).toBeLessThan(1000);
    await env.shot("organizations-10000");
    // The next page comes from the server too, as fast.
    const t1 = Date.now();
    await page.getByRole("button", { name: "Next page" }).click();
    await page.getByTestId("page-range").filter({ hasText: "51–100" }).waitFor();
    expect(Date.now() - t1).toBeLessThan(1000);
    expect(page.url()).toContain("page=2");
  });

  it("shows the first page of the devices list within 1 second of navigation", async () => {
    const { page } = env;
    await env.goto("#/orgs");
    await page.getByTestId("page-range").waitFor();
    const t0 = Date.now();
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Devices" }).click();
    await page
      .getByTestId("page-range")
      .filter({ hasText: `of ${(ORGS * DEVICES_PER_ORG).toLocaleString("en-US")}` })
      .waitFor();
    await expect.poll(() => page.locator("[data-testid^=device-row-]").count()).toBe(50);
    expect(Date.now() - t0).toBeLessThan(1000);
    await env.shot("devices-100000");
    // A search is server-side as well.
    await page.getByPlaceholder("Search devices").fill("host-99999");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByTestId("page-range").filter({ hasText: /of 1$/ }).waitFor();
  });
});
