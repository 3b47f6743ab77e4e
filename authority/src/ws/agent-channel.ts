/**
 * `wss://A/v1/agent`: agents. Without a credential the socket serves only `register` and is
 * closed after 10 s; with `Authorization: Bearer <device token>` (checked in the upgrade
 * request: an unknown or revoked token, or a deauthorized or deactivated device, gets 401 before
 * any frame) it is the device's control link, in the agent registry while open.
 */
import { AGENT_CHANNEL, AUTH_DEADLINE_MS, CairnError, type agentAuthorityMethods, type Handlers, hashSecret } from "@cairn/protocol";
import type { FastifyRequest } from "fastify";
import type WebSocket from "ws";
import type { AuthorityContext } from "../context.js";
import type { Device } from "../db/device-records.js";
import type { ApiRouter } from "../http/api-router.js";
import type { AgentLink } from "./agent-registry.js";
import { assertSameOriginUpgrade, attachPeer, bearerOf, negotiateSubprotocol, refuseUpgrade } from "./upgrade.js";

const devices = new WeakMap<FastifyRequest, Device>();

/** Registers the agent endpoint. */
export function registerAgentChannel(api: ApiRouter, ctx: AuthorityContext): void {
  const log = ctx.log.child({ channel: "agent" });
  api.app.get(
    "/v1/agent",
    {
      websocket: true,
      schema: { hide: true },
      onRequest: async (req, reply) => {
        try {
          negotiateSubprotocol(req);
          assertSameOriginUpgrade(req);
          const token = bearerOf(req);
          if (token !== null) {
            const device = await ctx.store.deviceByTokenHash(hashSecret(token));
            if (device === undefined) throw new CairnError("UNAUTHORIZED", "Unknown or revoked device token");
            if (device.deauthorized || !device.active) throw new CairnError("DEVICE_DEAUTHORIZED", "This device is deauthorized or deactivated");
            devices.set(req, device);
          }
        } catch (err) {
          return refuseUpgrade(reply, err);
        }
      },
    },
    (socket: WebSocket, req: FastifyRequest) => {
      const device = devices.get(req);
      if (device === undefined) {
        let used = false;
        attachPeer(socket, {
          channel: AGENT_CHANNEL,
          log,
          deadlineMs: AUTH_DEADLINE_MS,
          handlers: {
            register: async (p: Parameters<typeof ctx.registration.register>[0]) => {
              if (used) throw new CairnError("PROTOCOL_UNEXPECTED", "one registration per connection");
              used = true;
              return ctx.registration.register(p, req.ip);
            },
          },
        });
        return;
      }
      serveAgent(ctx, socket, device, req.ip, log);
    },
  );
}

function serveAgent(ctx: AuthorityContext, socket: WebSocket, device: Device, source: string, parent: AuthorityContext["log"]): void {
  const log = parent.child({ deviceId: device.deviceId });
  const svc = ctx.agentService;
  const current = () => svc.current(device.deviceId);
  let link: AgentLink;
  const handlers: Handlers<typeof agentAuthorityMethods> = {
    register() {
      throw new CairnError("PROTOCOL_UNEXPECTED", "this device is registered already");
    },
    "get-config": async () => svc.getConfig(await current()),
    "create-archive": async (p) => svc.createArchive(await current(), p),
    "set-archive-key": async (p) => {
      await svc.setArchiveKey(await current(), p);
      return {};
    },
    "get-archive-keys": async () => svc.getArchiveKeys(await current()),
    "set-user-key": async (p) => {
      await svc.setUserKey(await current(), p);
      return {};
    },
    "renew-tokens": async () => svc.renewTokens(await current()),
    "opt-in": async (p) => {
      await svc.optIn(await current(), p);
      return {};
    },
    "report-selection": async (p) => {
      await svc.reportSelection(await current(), p);
      return {};
    },
    "sign-out": async () => {
      const notify = await ctx.deviceLifecycle.signOut(await current());
      // after the answer has gone out: the notification closes this socket
      setImmediate(notify);
      return {};
    },
    "report-status": async (p) => {
      await svc.reportStatus(await current(), link, p);
      return {};
    },
    "restore-status": async (p) => {
      const a = await current();
      ctx.agents.restoreStatus({ ...p, deviceId: a.device.deviceId, deviceGuid: a.device.deviceGuid });
      return {};
    },
  };
  const peer = attachPeer(socket, {
    channel: AGENT_CHANNEL,
    handlers,
    log,
    onClose: () => ctx.agents.remove(link),
  });
  const now = ctx.clock.now();
  link = {
    deviceId: device.deviceId,
    deviceGuid: device.deviceGuid,
    userId: device.userId,
    peer,
    connectedAt: now,
    remoteAddress: source,
    activity: { backingUp: false, restoring: false },
    close: (code, reason) => socket.close(code, reason),
  };
  ctx.agents.add(link);
  ctx.events.emit("agent-connected", { deviceId: device.deviceId, orgId: device.orgId, agentVersion: device.agentVersion });
  ctx.store
    .transaction((tx) => tx.touchDevice(device.deviceId, now, { remoteAddress: source }))
    .catch((err: unknown) => log.warn({ err }, "could not record the connection"));
}
