/**
 * `wss://A/v1/storenode`: own storage nodes dial in. Without a credential the socket serves only
 * `enroll` (one-time enroll key) and is closed after 10 s; with `Authorization: Bearer <node
 * secret>` it is that server's control link (checked in the upgrade request: an unknown secret
 * gets 401 before any frame).
 */
import { AUTH_DEADLINE_MS, CairnError, hashSecret, NODE_CHANNEL } from "@cairn/protocol";
import type { FastifyRequest } from "fastify";
import type WebSocket from "ws";
import type { AuthorityContext } from "../context.js";
import type { Server } from "../db/device-records.js";
import type { ApiRouter } from "../http/api-router.js";
import { serveNodeLink } from "./node-link.js";
import { assertSameOriginUpgrade, attachPeer, bearerOf, negotiateSubprotocol, refuseUpgrade } from "./upgrade.js";

const servers = new WeakMap<FastifyRequest, Server>();

/** Registers the storage-node endpoint. */
export function registerNodeChannel(api: ApiRouter, ctx: AuthorityContext): void {
  const log = ctx.log.child({ channel: "storenode" });
  api.app.get(
    "/v1/storenode",
    {
      websocket: true,
      schema: { hide: true },
      onRequest: async (req, reply) => {
        try {
          negotiateSubprotocol(req);
          assertSameOriginUpgrade(req);
          const secret = bearerOf(req);
          if (secret !== null) {
            const server = await ctx.store.getServerBySecretHash(hashSecret(secret));
            const destination = server === undefined ? undefined : await ctx.store.getDestination(server.destinationId);
            if (server === undefined || destination?.active !== true) throw new CairnError("UNAUTHORIZED", "Unknown node secret");
            servers.set(req, server);
          }
        } catch (err) {
          return refuseUpgrade(reply, err);
        }
      },
    },
    (socket: WebSocket, req: FastifyRequest) => {
      const server = servers.get(req);
      if (server !== undefined) {
        serveNodeLink({ ws: socket, server, kind: "own", service: ctx.nodeService, log, now: ctx.clock.now() });
        return;
      }
      let used = false;
      attachPeer(socket, {
        channel: NODE_CHANNEL,
        log,
        deadlineMs: AUTH_DEADLINE_MS,
        handlers: {
          enroll: async (p: Parameters<typeof ctx.nodeService.enroll>[0]) => {
            if (used) throw new CairnError("PROTOCOL_UNEXPECTED", "one enrollment per connection");
            used = true;
            return ctx.nodeService.enroll(p, req.ip);
          },
        },
      });
    },
  );
}
