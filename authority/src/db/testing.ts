/**
 * The conformance suite every {@link AuthorityStore} implementation must pass (restic's backend
 * suite, automerge-repo's storage-adapter tests). Test-only: `src/` never imports it.
 *
 * ```ts
 * runAuthorityStoreTests("sqlite", async () => ({ store: openSqliteStore(...), teardown: … }));
 * ```
 */
import { describe, expect, it } from "vitest";
import type { NewOrg, NewUser } from "./records.js";
import type { AuthorityStore } from "./store.js";

/** What a suite setup returns. */
export interface StoreUnderTest {
  store: AuthorityStore;
  teardown(): Promise<void>;
}

let seq = 0;
function uid(): string {
  seq++;
  return `1${String(seq).padStart(9, "0")}${String(Math.floor(Math.random() * 1e8)).padStart(8, "0")}`;
}

/** A new org record for tests. */
export function newOrgFixture(name: string, parentId: number | null, at = 1000): NewOrg {
  const u = uid();
  return {
    orgUid: u,
    orgGuid: `9${u.slice(1)}`,
    parentId,
    name,
    extRef: null,
    notes: null,
    registrationKey: `KEY-${u}`,
    registrationKeyHash: `h${u}`,
    createdAt: at,
  };
}

/** A new user record for tests. */
export function newUserFixture(username: string, orgId: number, at = 1000): NewUser {
  return {
    userUid: uid(),
    orgId,
    username,
    usernameKey: username.toLowerCase(),
    email: null,
    firstName: null,
    lastName: null,
    notes: null,
    quotaBytes: -1,
    createdAt: at,
  };
}

/** Registers the conformance tests for one store implementation. */
export function runAuthorityStoreTests(name: string, setup: () => Promise<StoreUnderTest>): void {
  describe(`AuthorityStore conformance: ${name}`, () => {
    async function withStore(fn: (s: AuthorityStore) => Promise<void>): Promise<void> {
      const { store, teardown } = await setup();
      try {
        await fn(store);
      } finally {
        await teardown();
      }
    }

    it("builds a tree with paths, and lists a subtree", () =>
      withStore(async (s) => {
        const [root, a, a1, b] = await s.transaction(async (tx) => {
          const root = await tx.insertOrg(newOrgFixture("root", null));
          const a = await tx.insertOrg(newOrgFixture("A", root.orgId));
          const a1 = await tx.insertOrg(newOrgFixture("A1", a.orgId));
          const b = await tx.insertOrg(newOrgFixture("B", root.orgId));
          return [root, a, a1, b];
        });
        expect(root.path).toBe(`/${root.orgId}/`);
        expect(a1.path).toBe(`/${root.orgId}/${a.orgId}/${a1.orgId}/`);
        expect(a1.depth).toBe(2);
        expect((await s.listSubtree(a.path)).map((o) => o.name)).toEqual(["A", "A1"]);
        expect((await s.listOrgs({ scope: { kind: "subtree", path: a.path } }, { offset: 0, limit: 10 })).total).toBe(2);
        expect((await s.listOrgs({ scope: { kind: "all" } }, { offset: 0, limit: 10 })).items.map((o) => o.name)).toEqual(["root", "A", "A1", "B"]);
        expect((await s.listOrgs({ scope: { kind: "org", orgId: b.orgId } }, { offset: 0, limit: 10 })).items.map((o) => o.name)).toEqual(["B"]);
        expect((await s.listOrgs({ scope: { kind: "none" } }, { offset: 0, limit: 10 })).total).toBe(0);
        expect((await s.getTopLevelOrg())?.orgId).toBe(root.orgId);
        expect((await s.getOrgs([a1.orgId, root.orgId])).map((o) => o.name)).toEqual(["A1", "root"]);
      }));

    it("moves a subtree, rewriting paths and depths", () =>
      withStore(async (s) => {
        const ids = await s.transaction(async (tx) => {
          const root = await tx.insertOrg(newOrgFixture("root", null));
          const a = await tx.insertOrg(newOrgFixture("A", root.orgId));
          const a1 = await tx.insertOrg(newOrgFixture("A1", a.orgId));
          const b = await tx.insertOrg(newOrgFixture("B", root.orgId));
          await tx.moveOrg(a.orgId, b, 2000);
          return { root: root.orgId, a: a.orgId, a1: a1.orgId, b: b.orgId };
        });
        const a1 = await s.getOrg(ids.a1);
        expect(a1?.path).toBe(`/${ids.root}/${ids.b}/${ids.a}/${ids.a1}/`);
        expect(a1?.depth).toBe(3);
        expect((await s.getOrg(ids.a))?.parentId).toBe(ids.b);
      }));

    it("commits all or nothing, and reads outside see only committed data", () =>
      withStore(async (s) => {
        await s.transaction(async (tx) => {
          await tx.insertOrg(newOrgFixture("root", null));
        });
        let seenInside = -1;
        await expect(
          s.transaction(async (tx) => {
            const root = await tx.getTopLevelOrg();
            await tx.insertOrg(newOrgFixture("half", root?.orgId ?? 0));
            seenInside = (await s.listOrgs({ scope: { kind: "all" } }, { offset: 0, limit: 10 })).total;
            throw new Error("abort");
          }),
        ).rejects.toThrow("abort");
        expect(seenInside).toBe(1);
        expect((await s.listOrgs({ scope: { kind: "all" } }, { offset: 0, limit: 10 })).total).toBe(1);
      }));

    it("serializes transactions", () =>
      withStore(async (s) => {
        const root = await s.transaction((tx) => tx.insertOrg(newOrgFixture("root", null)));
        await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            s.transaction(async (tx) => {
              const before = (await tx.listOrgs({ scope: { kind: "all" } }, { offset: 0, limit: 100 })).total;
              await tx.insertOrg(newOrgFixture(`c${i}`, root.orgId));
              const after = (await tx.listOrgs({ scope: { kind: "all" } }, { offset: 0, limit: 100 })).total;
              expect(after).toBe(before + 1);
            }),
          ),
        );
        expect((await s.listOrgs({ scope: { kind: "all" } }, { offset: 0, limit: 100 })).total).toBe(11);
      }));

    it("deactivates a subtree and reactivates exactly what that did", () =>
      withStore(async (s) => {
        const o = await s.transaction(async (tx) => {
          const root = await tx.insertOrg(newOrgFixture("root", null));
          const a = await tx.insertOrg(newOrgFixture("A", root.orgId));
          const a1 = await tx.insertOrg(newOrgFixture("A1", a.orgId));
          const a2 = await tx.insertOrg(newOrgFixture("A2", a.orgId));
          await tx.deactivateOrgs(a2.path, a2.orgId, 1500);
          return { a, a1, a2 };
        });
        const deactivated = await s.transaction((tx) => tx.deactivateOrgs(o.a.path, o.a.orgId, 2000));
        expect(deactivated.sort()).toEqual([o.a.orgId, o.a1.orgId].sort());
        expect((await s.getOrg(o.a1.orgId))?.deactivatedByOrgId).toBe(o.a.orgId);
        expect((await s.orgChainState(o.a1.path)).deactivated).toBe(true);
        const back = await s.transaction((tx) => tx.reactivateOrgs(o.a.orgId, 3000));
        expect(back.sort()).toEqual([o.a.orgId, o.a1.orgId].sort());
        expect((await s.getOrg(o.a2.orgId))?.active).toBe(false);
      }));

    it("finds users case-insensitively and filters lists", () =>
      withStore(async (s) => {
        const { root, u } = await s.transaction(async (tx) => {
          const root = await tx.insertOrg(newOrgFixture("root", null));
          const u = await tx.insertUser({ ...newUserFixture("Ana@Example.com", root.orgId), email: "ana@example.com", lastName: "Diaz" });
          await tx.insertUser(newUserFixture("bob", root.orgId));
          await tx.grantRole(u.userId, 3, null, 1000);
          return { root, u };
        });
        expect((await s.getUserByUsernameKey("ana@example.com"))?.userId).toBe(u.userId);
        const scope = { kind: "subtree", path: root.path } as const;
        expect((await s.listUsers({ scope, q: "DIA" }, { offset: 0, limit: 10 })).items.map((x) => x.username)).toEqual(["Ana@Example.com"]);
        expect((await s.listUsers({ scope, q: "%" }, { offset: 0, limit: 10 })).total).toBe(0);
        expect((await s.listUsers({ scope, roleId: 3 }, { offset: 0, limit: 10 })).total).toBe(1);
        expect((await s.listUsers({ scope, userId: u.userId }, { offset: 0, limit: 10 })).total).toBe(1);
        expect((await s.rolesOf([u.userId])).get(u.userId)).toEqual(["Org Admin"]);
        expect((await s.listUsers({ scope, active: false }, { offset: 0, limit: 10 })).total).toBe(0);
      }));

    it("stores settings layers: groups, packets and locks", () =>
      withStore(async (s) => {
        const root = await s.transaction(async (tx) => {
          const root = await tx.insertOrg(newOrgFixture("root", null));
          await tx.putSettingsGroup(root.orgId, "quota", { maxSeats: 10 }, 1);
          await tx.putSettingsPacket(root.orgId, "packets.x", "y", 1);
          await tx.setSettingsLock(root.orgId, "quota.maxSeats", true, 1);
          return root;
        });
        expect(await s.getSettingsLayers([root.orgId])).toEqual([
          { orgId: root.orgId, groups: { quota: { maxSeats: 10 } }, packets: { "packets.x": "y" }, locks: ["quota.maxSeats"] },
        ]);
        await s.transaction(async (tx) => {
          await tx.putSettingsGroup(root.orgId, "quota", null, 2);
          await tx.putSettingsPacket(root.orgId, "packets.x", undefined, 2);
          await tx.setSettingsLock(root.orgId, "quota.maxSeats", false, 2);
        });
        expect(await s.getSettingsLayers([root.orgId])).toEqual([{ orgId: root.orgId, groups: {}, packets: {}, locks: [] }]);
      }));

    it("scopes audit entries to an org subtree", () =>
      withStore(async (s) => {
        const { a, b } = await s.transaction(async (tx) => {
          const root = await tx.insertOrg(newOrgFixture("root", null));
          const a = await tx.insertOrg(newOrgFixture("A", root.orgId));
          const b = await tx.insertOrg(newOrgFixture("B", root.orgId));
          const base = {
            at: 1,
            actorKind: "system" as const,
            actorUserId: null,
            actorUsername: null,
            source: null,
            requestId: null,
            outcome: "ok" as const,
            targetType: "org",
            details: null,
          };
          await tx.appendAudit({ ...base, action: "org.create", targetId: String(a.orgId), orgId: a.orgId });
          await tx.appendAudit({ ...base, action: "org.create", targetId: String(b.orgId), orgId: b.orgId, details: { k: 1 } });
          await tx.appendAudit({ ...base, action: "system.init", targetId: null, orgId: null });
          return { a, b };
        });
        const inA = await s.listAudit({ scope: { kind: "subtree", path: a.path } }, { offset: 0, limit: 10 });
        expect(inA.items.map((e) => e.targetId)).toEqual([String(a.orgId)]);
        const all = await s.listAudit({ scope: { kind: "all" } }, { offset: 0, limit: 10 });
        expect(all.total).toBe(3);
        expect(all.items[1]?.details).toEqual({ k: 1 });
        expect((await s.listAudit({ scope: { kind: "all" }, targetId: String(b.orgId) }, { offset: 0, limit: 10 })).total).toBe(1);
      }));

    it("reports zero usage for orgs without devices", () =>
      withStore(async (s) => {
        const root = await s.transaction((tx) => tx.insertOrg(newOrgFixture("root", null)));
        expect((await s.orgCounts([root.orgId])).get(root.orgId)).toEqual({
          orgId: root.orgId,
          userCount: 0,
          computerCount: 0,
          backupComputerCount: 0,
          licensedUserCount: 0,
          orgCount: 0,
        });
        expect((await s.orgUsage([root.orgId])).get(root.orgId)?.archiveBytes).toBe(0);
        expect(await s.listDestinations()).toEqual([]);
        expect(await s.liveArchivesOfOrgs([root.orgId])).toEqual([]);
      }));

    it("refuses a transaction opened inside another instead of deadlocking", () =>
      withStore(async (s) => {
        await expect(s.transaction(() => s.transaction(async () => 1))).rejects.toThrow(/inside a transaction/);
        expect(await s.transaction(async () => 2)).toBe(2);
      }));

    it("checks its integrity", () =>
      withStore(async (s) => {
        expect(await s.integrityCheck()).toBe("ok");
      }));
  });
}
