/**
 * The restore routes of API.md §8–§10, with the authority serving the storage role itself
 * (§9 "one URL for both roles"): `POST /api/LoginToken` (JWT), `POST /api/AuthToken`
 * (`login_token`), and the storage endpoints, which accept `Authorization: token t1-t2` as well
 * as a Bearer JWT, an API token or the console session (`storageCaller`); then
 * `connectedServerUrl`, `WebRestoreInfo` and `restore/push` for push restores.
 */
import { CairnError, isoTime } from "@cairn/protocol";
import type { FastifyRequest } from "fastify";
import type { Principal } from "../auth/access.js";
import type { AuthorityContext } from "../context.js";
import { type ApiCall, type ApiRouter, auditingDenials, type Method, NO_CONTENT, SENT } from "../http/api-router.js";
import { bodyObject, boolParam, queryValue } from "../http/params.js";
import { authenticate } from "../http/request-auth.js";
import { type Catalog, type CatalogEntry, displayName } from "./catalog.js";
import type { RestoreJobs } from "./restore-jobs.js";
import type { RestoreService } from "./restore-service.js";
import { writeZip } from "./zip-writer.js";

/** The caller of a storage endpoint: `token t1-t2`, or any credential the API takes. */
export async function storageCaller(ctx: AuthorityContext, svc: RestoreService, req: FastifyRequest): Promise<Principal> {
  const h = req.headers.authorization;
  const m = typeof h === "string" ? /^token\s+(\S+)\s*$/i.exec(h) : null;
  const p = m ? await svc.storagePrincipal(m[1] as string, req.ip, req.id) : await authenticate(ctx, req);
  if (p.enrollOnly === true) throw new CairnError("FORBIDDEN", "Set up two-factor authentication first (POST /api/v1/totp)");
  return p;
}

/** `serverUrl` of §9: the configured public URL, else the origin the client reached. */
export function originOf(svc: RestoreService, req: FastifyRequest): string {
  if (svc.o.publicUrl !== undefined) return new URL(svc.o.publicUrl).origin;
  const host = req.headers.host;
  if (typeof host !== "string" || !/^[A-Za-z0-9.\-:[\]]{1,300}$/.test(host)) throw new CairnError("BAD_REQUEST", "The request has no usable Host header");
  return `https://${host}`;
}

/** A tree node of §8 step 7. */
export function treeNodeJson(cat: Catalog, e: CatalogEntry): Record<string, unknown> {
  return {
    id: e.id,
    path: e.path,
    filename: displayName(e),
    type: e.type === "dir" ? "directory" : "file",
    deleted: cat.isDeleted(e),
    hidden: false,
    lastModified: isoTime(e.mtimeMs),
    lastModifiedMs: e.mtimeMs,
    lastBackup: isoTime(e.versionTime),
    lastBackupMs: e.versionTime,
    size: e.type === "dir" ? null : e.size,
  };
}

function timestamp(v: unknown): number | null {
  if (v === undefined || v === null || v === "") return null;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new CairnError("BAD_REQUEST", "timestamp is epoch milliseconds", { details: { field: "timestamp" } });
  return n;
}

const idParam = (v: unknown, name: string): string => {
  const s = typeof v === "string" ? v : "";
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(s)) throw new CairnError("NOT_FOUND", `No such ${name}`);
  return s;
};

/** Registers the restore routes. */
export function registerRestoreRoutes(api: ApiRouter, ctx: AuthorityContext, svc: RestoreService, jobs: RestoreJobs): void {
  const tags = ["restores"];
  const storage = "Storage endpoint (API.md §9): Authorization `token t1-t2` from /api/AuthToken, or a Bearer token, or the console session.";
  /** A storage endpoint: it finds its own caller (`storageCaller`) and audits denials like every signed-in route (T24). */
  const storageRoute = (def: { method: Method; url: string; summary: string; handler: (p: Principal, call: ApiCall<null>) => Promise<unknown> }) =>
    api.route({
      method: def.method,
      url: def.url,
      auth: "none",
      summary: def.summary,
      description: storage,
      tags,
      handler: async (call) => {
        const p = await storageCaller(ctx, svc, call.req);
        return auditingDenials(ctx, p, def, call.req, () => def.handler(p, call));
      },
    });
  api.route({
    method: "POST",
    url: "/api/LoginToken",
    auth: "user",
    summary: "A single-use login token for the storage hop, and the storage URL (this authority)",
    tags,
    handler: async ({ p, body, req }) => ({ serverUrl: originOf(svc, req), loginToken: await svc.loginToken(p, bodyObject(body)) }),
  });
  api.route({
    method: "POST",
    url: "/api/AuthToken",
    auth: "none",
    summary: "Turns a login token (Authorization: login_token …) into the storage token pair [t1, t2]",
    tags,
    handler: async ({ req }) => {
      const m = /^login_token\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
      if (!m) throw new CairnError("UNAUTHORIZED", "Send Authorization: login_token <token>");
      return svc.tokens.redeemLogin(m[1] as string);
    },
  });
  storageRoute({
    method: "POST",
    url: "/api/WebRestoreSession",
    summary: "Opens a restore session on a device's archive (archive password or custom key when the key policy needs one)",
    handler: async (p, { body }) => {
      const s = await svc.openSession(p, bodyObject(body));
      // Cairn's additions, so a console offers only the restores that will be accepted: a zip
      // needs the org's switch and a web restore limit other than 0 for this caller (the job
      // checks both again when it is created).
      const limitZero = (await jobs.limitMbFor(p, s)) === 0;
      const zipRestoreAllowed = s.contentAllowed && !limitZero;
      return {
        webRestoreSessionId: s.id,
        zipRestoreAllowed,
        // why not: the organization turned web restores off, or this caller's limit is 0 MB
        zipRestoreOff: zipRestoreAllowed ? null : !s.contentAllowed ? "organization" : "limit",
        serverRestoreAllowed: s.contentAllowed && svc.o.serverRestoreDir !== undefined,
      };
    },
  });
  storageRoute({
    method: "GET",
    url: "/api/WebRestoreTreeNode",
    summary: "The roots of the backup's file tree, or the children of fileId (a bare [] when empty)",
    handler: async (p, { query }) => {
      const fileId = queryValue(query, "fileId");
      const { cat, nodes } = await svc.treeNodes(p, {
        sessionId: idParam(queryValue(query, "webRestoreSessionId"), "restore session"),
        deviceGuid: queryValue(query, "guid") ?? "",
        fileId: fileId === undefined || fileId === "" ? null : fileId,
        at: timestamp(queryValue(query, "timestamp")),
        showDeleted: boolParam(query, "showDeleted") ?? false,
      });
      return nodes.map((e) => treeNodeJson(cat, e));
    },
  });
  storageRoute({
    method: "POST",
    url: "/api/WebRestoreFileSizePolling",
    summary: "Starts sizing a file or directory of the backup (files, directories, bytes)",
    handler: async (p, { body }) => {
      const b = bodyObject(body);
      const jobId = await svc.startSizing(p, {
        deviceGuid: String(b.guid ?? ""),
        fileId: String(b.fileId ?? ""),
        at: timestamp(b.timestamp),
        showDeleted: b.showDeleted === true,
      });
      return { jobId };
    },
  });
  storageRoute({
    method: "GET",
    url: "/api/WebRestoreFileSizePolling",
    summary: "The result of a sizing job",
    handler: async (p, { query }) => svc.sizing(p, idParam(queryValue(query, "jobId"), "size job"), queryValue(query, "guid") ?? null),
  });
  storageRoute({
    method: "POST",
    url: "/api/v9/restore/web",
    summary: "Starts a zip restore (or restoreToServer) of the selected paths",
    handler: async (p, { body }) => ({ jobId: (await jobs.createWeb(p, bodyObject(body))).jobId }),
  });
  storageRoute({
    method: "GET",
    url: "/api/WebRestoreJob/:jobId",
    summary: "A restore job's state (always ends done:true: done, failed or canceled)",
    handler: async (p, { params }) => jobs.jobJson(jobs.get(p, idParam(params.jobId, "restore job"))),
  });
  storageRoute({
    method: "DELETE",
    url: "/api/WebRestoreJob",
    summary: "Cancels a restore job ({jobId})",
    handler: async (p, { body }) => {
      await jobs.cancel(p, idParam(bodyObject(body).jobId, "restore job"));
      return NO_CONTENT;
    },
  });
  storageRoute({
    method: "GET",
    url: "/api/WebRestoreJobResult/:jobId",
    summary: "The zip of a restore job (the requesting user only, until it expires)",
    handler: async (p, { reply, params }) => {
      const { job, items, length } = await jobs.download(p, idParam(params.jobId, "restore job"));
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        "content-type": "application/zip",
        "content-disposition": `attachment; filename="restore-${job.jobId}.zip"`,
        "content-length": String(length),
        "cache-control": "no-store",
      });
      try {
        await writeZip(res, items, job.abort.signal);
        await jobs.downloaded(job, true);
      } catch (err) {
        res.destroy();
        await jobs.downloaded(job, false, err);
      }
      return SENT;
    },
  });
  api.route({
    method: "GET",
    url: "/api/connectedServerUrl",
    auth: "user",
    summary: "This authority's URL when the device holds a live connection, else serverUrl null",
    tags,
    handler: async ({ p, req, query }) => {
      const { device } = await svc.deviceForRestore(p, queryValue(query, "guid") ?? "");
      return { serverUrl: svc.platform.agents.isConnected(device.deviceId) ? originOf(svc, req) : null };
    },
  });
  api.route({
    method: "GET",
    url: "/api/WebRestoreInfo",
    auth: "user",
    summary: "The storage server holding a device's archive on a destination",
    tags,
    handler: async ({ p, query }) => {
      const d = await svc.deviceForRestore(p, queryValue(query, "srcGuid") ?? "");
      const a = await svc.archiveOf(d, queryValue(query, "destGuid") ?? null);
      if (a.serverGuid === null) throw new CairnError("NOT_FOUND", "The archive is not placed on a storage server");
      return { nodeGuid: a.serverGuid };
    },
  });
  storageRoute({
    method: "POST",
    url: "/api/v9/restore/push",
    summary: "Pushes the selected paths to a connected device (original location or a folder; rename or overwrite existing files)",
    handler: async (p, { body }) => ({ jobId: (await jobs.createPush(p, bodyObject(body))).jobId }),
  });
}
