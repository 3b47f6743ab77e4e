import { join } from "node:path";
import { isCairnError, ManualClock } from "@cairn/protocol";
import { describe, expect, it } from "vitest";
import { openDatabase } from "../src/db/open.js";
import { openSqliteStore } from "../src/db/sqlite-store.js";
import { newOrgFixture, runAuthorityStoreTests } from "../src/db/testing.js";
import { tempDir } from "./helpers.js";

runAuthorityStoreTests("sqlite", async () => {
  const store = openSqliteStore({ file: join(tempDir(), "authority.db"), clock: new ManualClock() });
  return { store, teardown: () => store.close() };
});

describe("sqlite store specifics", () => {
  it("turns a full database into STORAGE_FULL, writes nothing, and keeps serving reads (T06)", async () => {
    const file = join(tempDir(), "authority.db");
    const first = openSqliteStore({ file, clock: new ManualClock() });
    const root = await first.transaction((tx) => tx.insertOrg(newOrgFixture("root", null)));
    await first.close();
    const probe = openDatabase(file);
    const pages = probe.pragma("page_count", { simple: true }) as number;
    probe.close();
    const store = openSqliteStore({ file, clock: new ManualClock(), maxPageCount: pages + 1 });
    let err: unknown;
    try {
      for (let i = 0; i < 200; i++) {
        await store.transaction(async (tx) => {
          for (let j = 0; j < 20; j++) await tx.insertOrg({ ...newOrgFixture(`org ${i}-${j} ${"x".repeat(200)}`, root.orgId), notes: "n".repeat(2000) });
        });
      }
    } catch (e) {
      err = e;
    }
    expect(isCairnError(err, "STORAGE_FULL")).toBe(true);
    const listed = await store.listOrgs({ scope: { kind: "all" } }, { offset: 0, limit: 5000 });
    // whole transactions only: the root plus a multiple of 20
    expect((listed.total - 1) % 20).toBe(0);
    expect(await store.integrityCheck()).toBe("ok");
    expect((await store.getOrg(root.orgId))?.name).toBe("root");
    await store.close();
  });
});
