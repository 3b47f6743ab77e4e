/**
 * The organizations CSV export of a known tree (devices, users, a deactivated child): the source
 * document's columns in its order, and the right value in every column.
 */
import { DAY_MS, ManualClock } from "@cairn/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ORG_CSV_COLUMNS } from "../src/http/routes/export-routes.js";
import { startTestAuthority, type TestAuthority } from "../src/testing.js";
import { caller, createOrg, createUser, dataOf, PartBRows } from "./api-fixture.js";

const clock = new ManualClock(Date.UTC(2026, 8, 1, 12, 0, 0));
let a: TestAuthority;
beforeAll(async () => {
  a = await startTestAuthority({ clock });
});
afterAll(async () => {
  await a.dispose();
});

/** RFC 4180 parsing, enough for the test. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      i++;
    } else cell += c;
  }
  if (cell !== "" || row.length > 0) rows.push([...row, cell]);
  return rows;
}

describe("organizations CSV (seed 001 'CSV export')", () => {
  it("has the source document's 26 columns in order and the right value in every column", async () => {
    const admin = await caller(a, a.adminUsername, a.adminPassword);
    const top = dataOf<Record<string, unknown>>(await admin.get("/api/Org/my"));
    const deptA = await createOrg(admin, "Dept A", a.orgUid);
    const teamA1 = await createOrg(admin, "Team A1", deptA.orgUid);
    const oldB = await createOrg(admin, "Old B", a.orgUid);
    dataOf(
      await admin.send("PUT", `/api/Org/${deptA.orgId}`, {
        ...dataOf<Record<string, unknown>>(await admin.get(`/api/Org/${deptA.orgId}`)),
        orgExtRef: "CC-1, north",
        notes: '=HYPERLINK("http://x")',
      }),
    );
    const u1 = await createUser(admin, deptA.orgUid, "u1@example.com");
    const u2 = await createUser(admin, deptA.orgUid, "u2@example.com");
    await createUser(admin, oldB.orgUid, "u3@example.com");
    expect((await admin.send("PUT", `/api/OrgDeactivation/${oldB.orgId}`)).status).toBe(204);

    const rows = new PartBRows(a);
    const primary = rows.destination("Primary");
    const now = clock.now();
    const d1 = rows.device(u1.userId, "d1", now - 30 * DAY_MS);
    const d2 = rows.device(u1.userId, "d2", now - 30 * DAY_MS);
    rows.device(u2.userId, "d3", now - 10 * DAY_MS);
    rows.archive(d1.deviceId, u1.userId, primary.destinationId, {
      selectedFiles: 10,
      selectedBytes: 1000,
      todoFiles: 2,
      todoBytes: 200,
      archiveBytes: 1500,
      lastCompleted: now - DAY_MS,
    });
    rows.archive(d2.deviceId, u1.userId, primary.destinationId, {
      selectedFiles: 5,
      selectedBytes: 500,
      todoFiles: 1,
      todoBytes: 50,
      archiveBytes: 700,
      lastCompleted: now - 4 * DAY_MS,
    });
    // a device deactivated since: its archive (in cold storage) still takes space, but nothing of
    // it is selected for backup any more
    const d4 = rows.device(u2.userId, "d4", now - 60 * DAY_MS);
    rows.archive(d4.deviceId, u2.userId, primary.destinationId, {
      selectedFiles: 100,
      selectedBytes: 10_000,
      todoFiles: 7,
      todoBytes: 70,
      archiveBytes: 300,
      lastCompleted: now - 50 * DAY_MS,
    });
    rows.close();
    expect((await admin.send("POST", "/api/v4/computer-deactivation/update", { id: d4.deviceId })).status).toBe(204);

    const r = await admin.get("/api/v1/orgs/export");
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toMatch(/^text\/csv/);
    expect(r.headers["content-disposition"]).toBe('attachment; filename="organizations.csv"');
    const [header, ...body] = parseCsv(r.text);
    expect(header).toEqual([
      "orgId",
      "parentOrgId",
      "orgName",
      "registrationKey",
      "status",
      "active",
      "blocked",
      "computerCount",
      "backupDeviceCount",
      "shareDeviceCount",
      "planCount",
      "warningCount",
      "criticalCount",
      "targetComputerGuid",
      "targetDestinationGuid",
      "selectedFiles",
      "selectedBytes",
      "todoBytes",
      "todoFiles",
      "archiveBytes",
      "orgGuid",
      "parentOrgGuid",
      "orgUid",
      "parentOrgUid",
      "orgExtRef",
      "notes",
    ]);
    expect(header).toEqual([...ORG_CSV_COLUMNS]);
    const byName = new Map(body.map((row) => [row[2], Object.fromEntries((header as string[]).map((h, i) => [h, row[i]]))]));
    expect(body.map((row) => row[2])).toEqual(["Top Org", "Dept A", "Team A1", "Old B"]);
    const guidOf = async (orgId: number) => dataOf<{ orgGuid: string }>(await admin.get(`/api/Org/${orgId}`)).orgGuid;
    expect(byName.get("Top Org")).toEqual({
      orgId: String(top.orgId),
      parentOrgId: "",
      orgName: "Top Org",
      registrationKey: a.registrationKey,
      status: "Active",
      active: "TRUE",
      blocked: "FALSE",
      computerCount: "0",
      backupDeviceCount: "0",
      shareDeviceCount: "0",
      planCount: "0",
      warningCount: "0",
      criticalCount: "0",
      targetComputerGuid: "",
      targetDestinationGuid: "",
      selectedFiles: "0",
      selectedBytes: "0",
      todoBytes: "0",
      todoFiles: "0",
      archiveBytes: "0",
      orgGuid: top.orgGuid,
      parentOrgGuid: "",
      orgUid: a.orgUid,
      parentOrgUid: "",
      orgExtRef: "",
      notes: "",
    });
    expect(byName.get("Dept A")).toEqual({
      orgId: String(deptA.orgId),
      parentOrgId: String(top.orgId),
      orgName: "Dept A",
      registrationKey: deptA.registrationKey,
      status: "Active",
      active: "TRUE",
      blocked: "FALSE",
      computerCount: "3",
      backupDeviceCount: "2",
      shareDeviceCount: "0",
      planCount: "0",
      // d2: 4 days without a completed backup (warning after 3); d3: never, registered 10 days ago (critical after 5)
      warningCount: "1",
      criticalCount: "1",
      targetComputerGuid: "",
      targetDestinationGuid: primary.guid,
      selectedFiles: "15",
      selectedBytes: "1500",
      todoBytes: "250",
      todoFiles: "3",
      archiveBytes: "2500",
      orgGuid: await guidOf(deptA.orgId),
      parentOrgGuid: top.orgGuid,
      orgUid: deptA.orgUid,
      parentOrgUid: a.orgUid,
      orgExtRef: "CC-1, north",
      // formula injection: the value is prefixed so a spreadsheet shows it as text
      notes: '\'=HYPERLINK("http://x")',
    });
    expect(byName.get("Team A1")).toMatchObject({
      orgId: String(teamA1.orgId),
      parentOrgId: String(deptA.orgId),
      status: "Active",
      computerCount: "0",
      parentOrgUid: deptA.orgUid,
    });
    expect(byName.get("Old B")).toMatchObject({
      orgId: String(oldB.orgId),
      status: "Deactivated",
      active: "FALSE",
      blocked: "FALSE",
      computerCount: "0",
      orgUid: oldB.orgUid,
    });

    // the status filter of the list screen
    const deactivated = parseCsv((await admin.get("/api/v1/orgs/export?active=False")).text);
    expect(deactivated.slice(1).map((row) => row[2])).toEqual(["Old B"]);
    // an Org Admin of Dept A exports only its subtree
    await createUser(admin, deptA.orgUid, "csvadmin@example.com", ["Org Admin"]);
    const sub = await caller(a, "csvadmin@example.com", "password123");
    expect(
      parseCsv((await sub.get("/api/v1/orgs/export")).text)
        .slice(1)
        .map((row) => row[2]),
    ).toEqual(["Dept A", "Team A1"]);
  });
});
