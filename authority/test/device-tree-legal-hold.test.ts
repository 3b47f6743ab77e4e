/**
 * API.md §5.4 and §11: a custodian's device shows its legal-hold backup set in the settings tree
 * of `GET /api/Computer/{id}?incSettings=True` (`lh-<holdUid>`, locked, destinations in the
 * `{"@locked":"true","destination":[…]}` form), next to set "1"; a PUT of the tree (edited or
 * not, with the set or without it) ignores that set, and it is there again on the next GET; it
 * goes when the custodian is released.
 */
import { ManualClock } from "@cairn/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOrg, dataOf } from "./api-fixture.js";
import { type DeviceFixture, deviceFixture, type TestDevice } from "./device-fixture.js";

const clock = new ManualClock(Date.UTC(2026, 6, 1, 9, 0, 0));
let f: DeviceFixture;
let dev: TestDevice;
let holdUid: string;
let membershipUid: string;

type Tree = Record<string, any>;

const setsOf = (c: Tree): Tree[] => c.settings.serviceBackupConfig.backupConfig.backupSets as Tree[];

beforeAll(async () => {
  f = await deviceFixture({ clock });
  const org = await createOrg(f.admin, "Hold tree org", f.a.orgUid);
  dev = await f.device({ username: "custodian-tree@example.com", registrationKey: org.registrationKey, deviceName: "held-laptop" });
  const py = f.a.py42();
  const policy = (await py.data("POST", "/api/v4/legal-hold-policy/create", { name: "Home only", policy: { include: ["/home/"] } })) as {
    legalHoldPolicyUid: string;
  };
  holdUid = (
    (await py.data("POST", "/api/LegalHold", {
      name: "Case 12",
      holdPolicyUid: policy.legalHoldPolicyUid,
      description: null,
      notes: null,
      holdExtRef: null,
    })) as {
      legalHoldUid: string;
    }
  ).legalHoldUid;
});
afterAll(async () => {
  await f.dispose();
});

describe("the legal-hold set in a device's settings tree", () => {
  it("is absent while the owner is on no hold", async () => {
    const c = dataOf<Tree>(await f.admin.get(`/api/Computer/${dev.computerId}?incSettings=True`));
    expect(setsOf(c).map((s) => s["@id"])).toEqual(["1"]);
  });

  it("is listed, locked, with destinations in the legal-hold form, once the owner is a custodian", async () => {
    const py = f.a.py42();
    membershipUid = ((await py.data("POST", "/api/LegalHoldMembership", { legalHoldUid: holdUid, userUid: dev.userUid })) as { legalHoldMembershipUid: string })
      .legalHoldMembershipUid;
    const c = (await py.data("GET", `/api/Computer/${dev.computerId}?incSettings=True`)) as Tree;
    const offered = (c.availableDestinations as { guid: string }[]).map((d) => d.guid);
    expect(offered.length).toBeGreaterThan(0);
    const sets = setsOf(c);
    expect(sets.map((s) => s["@id"])).toEqual(["1", `lh-${holdUid}`]);
    const lh = sets[1] as Tree;
    expect(lh).toMatchObject({ "@locked": "true", name: "Legal hold: Case 12" });
    expect(lh.destinations).toEqual({ "@locked": "true", destination: offered.map((g) => ({ "@id": g, "@locked": "true" })) });
    expect(lh.backupPaths.pathset).toEqual({ "@locked": "true", paths: { "@os": "Linux", path: [{ "@include": "/home/" }] } });
    // set "1" keeps the plain form
    expect(Array.isArray(sets[0]?.destinations)).toBe(true);
  });

  it("is ignored by a PUT of the tree, edited or dropped, and shown again afterwards", async () => {
    const py = f.a.py42();
    const c = (await py.data("GET", `/api/Computer/${dev.computerId}?incSettings=True`)) as Tree;
    const before = structuredClone(setsOf(c)[1]);
    // py42 PUTs the whole object back untouched: nothing changes
    await py.data("PUT", `/api/Computer/${dev.computerId}`, c);
    const edited = structuredClone(c);
    const lh = setsOf(edited)[1] as Tree;
    lh.backupPaths.pathset = { paths: { "@os": "Linux", "@cleared": "true", path: [] } };
    lh.destinations = { "@locked": "true", destination: [{ "@id": "123456789012345678" }] };
    (setsOf(edited)[0] as Tree).backupPaths.pathset = {
      paths: { "@os": "Linux", "@cleared": "false", path: [{ "@include": "/home/tree/", "@und": "false" }] },
    };
    expect((await f.admin.send("PUT", `/api/Computer/${dev.computerId}`, edited)).status).toBe(200);
    let back = (await py.data("GET", `/api/Computer/${dev.computerId}?incSettings=True`)) as Tree;
    expect(setsOf(back)[0]?.backupPaths.pathset).toEqual([{ "@os": "Linux", path: [{ "@include": "/home/tree/" }] }]);
    expect(setsOf(back)[1]).toEqual(before);
    // a tree without the set does not end the hold's set either
    const dropped = structuredClone(back);
    dropped.settings.serviceBackupConfig.backupConfig.backupSets = [setsOf(back)[0]];
    expect((await f.admin.send("PUT", `/api/Computer/${dev.computerId}`, dropped)).status).toBe(200);
    back = (await py.data("GET", `/api/Computer/${dev.computerId}?incSettings=True`)) as Tree;
    expect(setsOf(back).map((s) => s["@id"])).toEqual(["1", `lh-${holdUid}`]);
    expect(setsOf(back)[1]).toEqual(before);
  });

  it("goes once the custodian is released", async () => {
    const py = f.a.py42();
    expect((await py.call("POST", "/api/LegalHoldMembershipDeactivation", { legalHoldMembershipUid: membershipUid })).status).toBe(204);
    const c = (await py.data("GET", `/api/Computer/${dev.computerId}?incSettings=True`)) as Tree;
    expect(setsOf(c).map((s) => s["@id"])).toEqual(["1"]);
  });
});
