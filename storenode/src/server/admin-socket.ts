/**
 * The operator's local admin API: HTTP over a unix socket (`<data>/admin.sock`, mode 0600) that
 * only the node's own user can reach, so `cairn storenode maintain|verify` act on a running node
 * without opening its stores a second time. One route: `POST /maintain` with
 * `{archiveGuid?, verify?, verifyOnly?}` → the combined {@link MaintainResult} over every namespace.
 */
import { chmodSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { CairnError, isCairnError } from "@cairn/protocol";
import type { MaintainResult } from "../maintenance/maintenance.js";

/** The socket's file name in the data directory. */
export const ADMIN_SOCKET = "admin.sock";

/** What the admin API needs from the node. */
export interface AdminTarget {
  maintainAll(o: { archiveGuid: string | null; verify: boolean; verifyOnly?: boolean }): Promise<MaintainResult>;
}

/** Listens on `<dataDir>/admin.sock`; resolves to the server (close it on shutdown). */
export function listenAdminSocket(dataDir: string, target: AdminTarget): Promise<Server> {
  const path = join(dataDir, ADMIN_SOCKET);
  rmSync(path, { force: true });
  const server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    if (req.method !== "POST" || req.url !== "/maintain") {
      reply(404, { code: "NOT_FOUND", message: "unknown admin route" });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= 64 * 1024) chunks.push(c);
    });
    req.on("end", () => {
      let body: { archiveGuid?: unknown; verify?: unknown; verifyOnly?: unknown };
      try {
        body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString("utf8")) as typeof body) : {};
      } catch {
        reply(400, { code: "BAD_REQUEST", message: "body is not JSON" });
        return;
      }
      const archiveGuid = typeof body.archiveGuid === "string" ? body.archiveGuid : null;
      target.maintainAll({ archiveGuid, verify: body.verify === true, verifyOnly: body.verifyOnly === true }).then(
        (r) => reply(200, r),
        (err: unknown) => {
          const e = isCairnError(err) ? err : new CairnError("INTERNAL", "maintenance failed");
          reply(e.spec.http, e.toWire());
        },
      );
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      chmodSync(path, 0o600);
      resolve(server);
    });
  });
}
