/**
 * Cold-storage routes: py42's `GET /api/ColdStorage` (with Cairn's `totalBytes`) and
 * `PUT /api/coldStorage/{id}` (the numeric archive id, or the GUID with `idType=guid`; API.md
 * §1.4, §7.2), and Cairn's purge-now and CSV export (`/api/v1/cold-storage/…`, docs/console.md). The
 * CSV has the source document's 19 columns in its order.
 */
import { CairnError, GUID_PATTERN } from "@cairn/protocol";
import { stringify } from "csv-stringify/sync";
import type { ColdStorageView } from "../db/operations-store.js";
import { COLD_SORT_KEYS } from "../db/operations-store.js";
import { type ApiRouter, SENT } from "../http/api-router.js";
import { bodyObject, boolParam, guidValue, idType, numericId, pageParams, queryValue, sortParams } from "../http/params.js";
import type { ColdArchiveRef, ColdStorageService } from "./cold-storage-service.js";

/** The row of API.md §7.2. */
export function coldRowJson(r: ColdStorageView): Record<string, unknown> {
  return {
    archiveGuid: r.archiveGuid,
    archiveId: r.archiveId,
    archiveBytes: r.archiveBytes,
    archiveType: "BACKUP",
    archiveHoldExpireDate: r.holdExpireDate,
    purgeDate: r.holdExpireDate,
    sourceUserId: r.userId,
    sourceUserUid: r.userUid,
    sourceUserUsername: r.username,
    sourceUserFirstName: r.firstName,
    sourceUserLastName: r.lastName,
    sourceUserEmail: r.email,
    sourceComputerId: r.deviceId,
    sourceComputerGuid: r.deviceGuid,
    sourceComputerName: r.deviceName,
    sourceComputerOsHostname: r.osHostname,
    sourceComputerService: "CrashPlan",
    orgId: r.orgId,
    orgUid: r.orgUid,
    orgName: r.orgName,
    destinationGuid: r.destinationGuid,
    storePointId: r.storePointId,
    storePointName: r.storePointName,
    mountPointName: r.storePointName,
    serverName: r.serverName,
    purgePending: r.purgePending,
  };
}

/** Seed 001 cold storage "CSV export": the columns, in order. */
export const COLD_CSV_COLUMNS = [
  "archiveGuid",
  "id",
  "archiveBytes",
  "archiveType",
  "sourceUserId",
  "sourceUserUsername",
  "sourceUserFirstName",
  "sourceUserLastName",
  "sourceUserEmail",
  "sourceComputerId",
  "sourceComputerName",
  "sourceComputerOsHostname",
  "sourceComputerService",
  "purgeDate",
  "orgId",
  "orgName",
  "storePointId",
  "storePointName",
  "serverName",
] as const;

/** The CSV of cold-storage rows (header first, formula-escaped). */
export function coldStorageCsv(rows: readonly ColdStorageView[]): string {
  const body = rows.map((r) => [
    r.archiveGuid,
    r.archiveId,
    r.archiveBytes,
    "BACKUP",
    r.userId,
    r.username,
    r.firstName ?? "",
    r.lastName ?? "",
    r.email ?? "",
    r.deviceId,
    r.deviceName,
    r.osHostname ?? "",
    "CrashPlan",
    r.holdExpireDate,
    r.orgId,
    r.orgName,
    r.storePointId ?? "",
    r.storePointName ?? "",
    r.serverName ?? "",
  ]);
  return stringify([[...COLD_CSV_COLUMNS], ...body], { escape_formulas: true, record_delimiter: "\r\n" });
}

function guidList(v: unknown, name: string, max = 10_000): string[] {
  if (!Array.isArray(v) || v.length > max) throw new CairnError("BAD_REQUEST", `${name} must be a list of archive GUIDs`, { details: { field: name } });
  return v.map((g) => guidValue(g, name));
}

/** Registers the cold-storage routes. */
export function registerColdStorageRoutes(api: ApiRouter, svc: ColdStorageService): void {
  const tags = ["cold storage"];
  api.route({
    method: "GET",
    url: "/api/ColdStorage",
    auth: "user",
    summary: "Archives in cold storage of an org (incChildOrgs adds its descendants), sortable",
    tags,
    handler: async ({ p, query }) => {
      const orgId = numericId(queryValue(query, "orgId"), "orgId");
      const sort = sortParams(query, COLD_SORT_KEYS);
      const q = { orgId, incChildOrgs: boolParam(query, "incChildOrgs") ?? false, ...(sort ? { sort } : {}) };
      const r = await svc.list(p, q, pageParams(query));
      // totalBytes (Cairn's addition): the cold storage the org uses, every matching row summed
      return { totalCount: r.total, totalBytes: (await svc.totals(p, q)).bytes, coldStorageRows: r.items.map(coldRowJson) };
    },
  });
  api.route({
    method: "PUT",
    url: "/api/coldStorage/:archiveId",
    auth: "user",
    summary:
      "Changes an archive's purge date (YYYY-MM-DD; a past date purges at the next run); the id is the numeric archive id, or the archive GUID with idType=guid",
    tags,
    handler: async ({ p, params, query, body }) => {
      const id = params.archiveId ?? "";
      const notFound = () => new CairnError("NOT_FOUND", "No such archive in cold storage");
      const t = idType(query);
      let ref: ColdArchiveRef;
      if (t === "guid") {
        if (!GUID_PATTERN.test(id)) throw notFound();
        ref = { archiveGuid: id };
      } else if (t === "id") {
        if (!/^[0-9]{1,15}$/.test(id) || Number(id) < 1) throw notFound();
        ref = { archiveId: Number(id) };
      } else throw new CairnError("BAD_REQUEST", "idType is id or guid", { details: { field: "idType" } });
      return coldRowJson(await svc.setPurgeDate(p, ref, bodyObject(body).archiveHoldExpireDate));
    },
  });
  api.route({
    method: "POST",
    url: "/api/v1/cold-storage/purge",
    auth: "user",
    summary:
      "Purges archives in cold storage now: the wrapped keys are destroyed and the nodes delete the blocks; 400 ACTIVE_LEGAL_HOLD (nothing purged) when an owner is on active legal hold",
    tags,
    handler: async ({ p, body }) => {
      const guids = guidList(bodyObject(body).archiveGuids, "archiveGuids");
      if (guids.length === 0) throw new CairnError("BAD_REQUEST", "archiveGuids is empty", { details: { field: "archiveGuids" } });
      const run = await svc.purgeNow(p, guids);
      return { purged: run.purged.length, deleted: run.deleted.length, pending: run.pending.length };
    },
  });
  api.route({
    method: "POST",
    url: "/api/v1/cold-storage/export",
    auth: "user",
    summary: "Cold storage of an org as CSV (the source document's columns; only archiveGuids when given)",
    tags,
    handler: async ({ p, body, reply }) => {
      const b = bodyObject(body);
      const orgId = numericId(b.orgId, "orgId");
      const guids = b.archiveGuids === undefined || b.archiveGuids === null ? undefined : guidList(b.archiveGuids, "archiveGuids");
      const rows = await svc.listAll(p, { orgId, incChildOrgs: b.incChildOrgs !== false, ...(guids ? { archiveGuids: guids } : {}) });
      reply.code(200).type("text/csv; charset=utf-8").header("content-disposition", 'attachment; filename="cold-storage.csv"').send(coldStorageCsv(rows));
      return SENT;
    },
  });
}
