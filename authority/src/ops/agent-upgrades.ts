/**
 * Agent upgrades ("Upgrade Clients" of the source document): the routes agents and
 * administrators use, and the offer that `POST /api/v1/orgs/{id}/upgrade-clients` makes.
 *
 * - `GET /api/v1/agent-packages/signing-key` (no credential: a public key, over the TLS link the
 *   agent pins): `{keyId, publicKey}`; agents pin it on first use (or take it from agent.toml).
 * - `GET /api/v1/agent-packages/{version}/download` with `Authorization: Bearer <device token>`
 *   (an active, not deauthorized device): the package bytes, `x-cairn-package-sha256`.
 * - `GET /api/v1/agent-packages` (administrators with `storage.read`): the imported packages.
 * - {@link AgentUpgrades.offer}: pushes `upgrade-available {version, url, sha256, signature}` to
 *   the connected agents of the given devices (the org's own, not its children's: the route picks
 *   them), the newest package unless a version is named.
 */
import { createReadStream } from "node:fs";
import { CairnError, hashSecret } from "@cairn/protocol";
import type { FastifyRequest } from "fastify";
import { requirePermission } from "../auth/access.js";
import type { AuthorityContext } from "../context.js";
import type { HttpPlugin } from "../http/server.js";
import { bearerOf } from "../ws/upgrade.js";
import { type AgentPackage, getAgentPackage, listAgentPackages, packagePublicKey } from "./agent-packages.js";
import { authorityMetricsOf } from "./health.js";

/** What an offer did. */
export interface UpgradeOffer {
  version: string;
  /** Connected devices the event went to. */
  notified: number;
}

/** The upgrade service of one running authority. */
export class AgentUpgrades {
  constructor(
    private readonly ctx: AuthorityContext,
    readonly dataDir: string,
    private readonly publicUrl: string | undefined,
  ) {}

  /** The package offered when none is named: the newest imported one (null when there is none). */
  newest(): AgentPackage | null {
    return listAgentPackages(this.dataDir).at(-1) ?? null;
  }

  /**
   * Offers a package to the connected agents among `deviceIds`. Returns null when no package
   * exists and none was named; NOT_FOUND for a named version that does not exist.
   */
  offer(deviceIds: readonly number[], o: { version?: string; origin: string }): UpgradeOffer | null {
    const pkg = o.version !== undefined ? getAgentPackage(this.dataDir, o.version) : this.newest();
    if (pkg === null) return null;
    const origin = this.publicUrl !== undefined ? new URL(this.publicUrl).origin : o.origin;
    const url = `${origin}/api/v1/agent-packages/${encodeURIComponent(pkg.version)}/download`;
    const connected = deviceIds.filter((id) => this.ctx.agents.isConnected(id));
    this.ctx.agents.emit(connected, "upgrade-available", { version: pkg.version, url, sha256: pkg.sha256, signature: pkg.signature });
    authorityMetricsOf(this.ctx)?.upgradesOffered.inc(connected.length);
    this.ctx.log.info({ version: pkg.version, devices: connected.length }, "agent upgrade offered");
    return { version: pkg.version, notified: connected.length };
  }
}

const running = new WeakMap<AuthorityContext, AgentUpgrades>();

/** The upgrade service of the authority that owns `ctx` (undefined without the plugin). */
export function agentUpgradesOf(ctx: AuthorityContext): AgentUpgrades | undefined {
  return running.get(ctx);
}

/** The request's origin (`https://host:port`), as clients reached this listener. */
export function requestOrigin(req: FastifyRequest): string {
  return `https://${req.headers.host ?? "localhost"}`;
}

/** The plugin (`startAuthority` adds it with the data directory). */
export function agentUpgradePlugin(o: { dataDir: string; publicUrl?: string }): HttpPlugin {
  return {
    name: "agent-upgrades",
    register(api, ctx) {
      const svc = new AgentUpgrades(ctx, o.dataDir, o.publicUrl);
      running.set(ctx, svc);
      packagePublicKey(o.dataDir);
      api.route({
        method: "GET",
        url: "/api/v1/agent-packages/signing-key",
        auth: "none",
        summary: "The public key agent packages are signed with (agents pin it)",
        tags: ["upgrades"],
        handler: async () => packagePublicKey(o.dataDir),
      });
      api.route({
        method: "GET",
        url: "/api/v1/agent-packages",
        auth: "user",
        summary: "Imported agent packages, oldest version first",
        tags: ["upgrades"],
        handler: async ({ p }) => {
          requirePermission(p, "storage.read", { kind: "system" }, "agent packages");
          const list = listAgentPackages(o.dataDir);
          return { totalCount: list.length, packages: list };
        },
      });
      api.app.get<{ Params: { version: string } }>("/api/v1/agent-packages/:version/download", { schema: { hide: true } }, async (req, reply) => {
        const token = bearerOf(req);
        const device = token === null ? undefined : await ctx.store.deviceByTokenHash(hashSecret(token));
        if (device === undefined) throw new CairnError("UNAUTHORIZED", "A device token is required");
        if (device.deauthorized || !device.active) throw new CairnError("DEVICE_DEAUTHORIZED", "This device is deauthorized or deactivated");
        const pkg = getAgentPackage(o.dataDir, req.params.version);
        ctx.log.info({ deviceId: device.deviceId, version: pkg.version }, "agent package download");
        return reply
          .type("application/gzip")
          .header("content-length", pkg.size)
          .header("x-cairn-package-sha256", pkg.sha256)
          .header("x-cairn-package-version", pkg.version)
          .send(createReadStream(pkg.path));
      });
    },
  };
}
