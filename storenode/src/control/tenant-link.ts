/**
 * Tenant authorities (provider mode) on `wss://N/v1/tenant`. With `Authorization: Bearer
 * <tenant secret>` the link serves that tenant's namespace at once. Without it, the only method
 * is `tenant-register` with a provider key's one-time credential; on success the same socket
 * becomes the tenant's link. A socket that has not registered within the auth deadline is closed.
 */
import { CairnError, hashSecret, newSecret } from "@cairn/protocol";
import type WebSocket from "ws";
import type { NodeContext } from "../context.js";
import { storePointsFor } from "./handlers.js";
import { ControlLink } from "./link.js";

/** Serves an authenticated tenant socket. */
export function acceptTenant(ctx: NodeContext, ws: WebSocket, tenantId: string): ControlLink {
  const link = new ControlLink(ws, tenantId, ctx, "tenant");
  link.activate().catch((err: unknown) => link.log.warn({ err }, "tenant link start failed"));
  return link;
}

/** Serves an unauthenticated socket that may only register. */
export function acceptRegistration(ctx: NodeContext, ws: WebSocket): ControlLink {
  let registered = false;
  const deadline = setTimeout(() => {
    if (!registered) ws.close(4401, "not registered in time");
  }, ctx.opts.authDeadlineMs);
  deadline.unref();
  ws.once("close", () => clearTimeout(deadline));
  const link: ControlLink = new ControlLink(ws, "", ctx, "tenant", {
    async "tenant-register"(p) {
      if (registered) throw new CairnError("PROTOCOL_UNEXPECTED", "already registered");
      const tenant = ctx.db.tenantByCredentialHash(hashSecret(p.credential));
      if (!tenant) throw new CairnError("PROVIDER_KEY_INVALID", "the provider key's credential is unknown or was used already");
      const secret = newSecret("cnt");
      ctx.db.registerTenant(tenant.id, p.authorityGuid, p.authorityName, hashSecret(secret), p.authorityPublicKeys, ctx.clock.now());
      registered = true;
      clearTimeout(deadline);
      ctx.logger.info({ tenantId: tenant.id, tenantName: tenant.name, authorityGuid: p.authorityGuid }, "tenant registered");
      const storePoints = await storePointsFor(ctx, tenant.id);
      // Serve the namespace on this socket once the answer is out.
      setImmediate(() => {
        link.activate(tenant.id).catch((err: unknown) => {
          if (ws.readyState === ws.OPEN) link.log.warn({ err }, "tenant link start failed");
        });
      });
      return {
        tenantId: tenant.id,
        tenantSecret: secret,
        serverGuid: ctx.serverGuid,
        name: ctx.name,
        urls: ctx.urls(),
        fingerprint: ctx.tls.fingerprint,
        quotaBytes: tenant.quotaBytes,
        storePoints,
      };
    },
  });
  return link;
}
