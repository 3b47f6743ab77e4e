/**
 * One authenticated node control link, whoever dialled: the authority serves `announce`,
 * `report-archives` and `report-damage` and takes the `archive-changed` and `space-low` events,
 * and the link is in the node registry while the socket is open.
 */
import { CairnError, type Handlers, NODE_CHANNEL, type nodeAuthorityMethods } from "@cairn/protocol";
import type { Logger } from "pino";
import type WebSocket from "ws";
import type { Server } from "../db/device-records.js";
import type { NodeService } from "../storage/node-service.js";
import type { NodeLink } from "./node-registry.js";
import { attachPeer } from "./upgrade.js";

/** Serves a node's link on an open socket and registers it. */
export function serveNodeLink(o: { ws: WebSocket; server: Server; kind: "own" | "provider"; service: NodeService; log: Logger; now: number }): NodeLink {
  const { ws, server, service } = o;
  const log = o.log.child({ serverId: server.serverId, link: o.kind });
  const registry = service.registry;
  let link: NodeLink;
  const handlers: Handlers<typeof nodeAuthorityMethods> = {
    enroll() {
      throw new CairnError("PROTOCOL_UNEXPECTED", "this server is enrolled already");
    },
    announce: (p) => service.announce(server, link, p),
    "report-archives": async (p) => {
      await service.reportArchives(server, p.archives);
      return {};
    },
    "report-damage": async (p) => {
      await service.reportDamage(server, p);
      return {};
    },
  };
  const peer = attachPeer(ws, {
    channel: NODE_CHANNEL,
    handlers,
    log,
    timeoutMs: 120_000,
    onEvent: (event, data) => {
      const done =
        event === "archive-changed"
          ? service.archiveChanged(server, data as never)
          : event === "space-low"
            ? service.spaceLow(server, link, data as never)
            : Promise.resolve();
      done.catch((err: unknown) => log.warn({ err, event }, "node event not applied"));
    },
    onClose: () => {
      registry.remove(link);
      log.info("storage server disconnected");
    },
  });
  link = {
    serverId: server.serverId,
    serverGuid: server.serverGuid,
    destinationId: server.destinationId,
    kind: o.kind,
    peer,
    connectedAt: o.now,
    nodeAcceptsNew: new Map(),
    close: (code, reason) => ws.close(code, reason),
  };
  registry.add(link);
  log.info("storage server connected");
  return link;
}
