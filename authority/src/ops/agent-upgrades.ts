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
 *   them), the newest package unless a version is named. The offer stands: an agent of that org
 *   that connects later (it was off, or the authority restarted) gets it when its link opens
 *   (`<data>/packages/offers.json`, `{orgId: version}`; the agent ignores versions it runs).
 */
import { createReadStream, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CairnError, compareVersions, hashSecret, packageVersionOf } from "@cairn/protocol";
import type { FastifyRequest } from "fastify";
import { requirePermission } from "../auth/access.js";
import type { AuthorityContext } from "../context.js";
import type { HttpPlugin } from "../http/server.js";
import { bearerOf } from "../ws/upgrade.js";
import { writeSecretFile } from "../keys/authority-keys.js";
import { type AgentPackage, getAgentPackage, listAgentPackages, PACKAGES_DIR, packagePublicKey } from "./agent-packages.js";
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
  offer(deviceIds: readonly number[], o: { version?: string; origin: string; orgId?: number }): UpgradeOffer | null {
    const pkg = this.packageFor(o.version);
    return pkg === null ? null : this.offerPackage(deviceIds, pkg, o);
  }

  /**
   * The package an offer of `version` would make (the newest when none is named; null when none
   * is imported). NOT_FOUND for a named version that does not exist. Changes nothing, so a route
   * checks it before it writes anything.
   */
  packageFor(version?: string): AgentPackage | null {
    return version !== undefined ? getAgentPackage(this.dataDir, version) : this.newest();
  }

  /** Offers `pkg` (from {@link packageFor}) to the connected agents among `deviceIds`. */
  offerPackage(deviceIds: readonly number[], pkg: AgentPackage, o: { origin: string; orgId?: number }): UpgradeOffer {
    const origin = this.publicUrl !== undefined ? new URL(this.publicUrl).origin : o.origin;
    this.lastOrigin = origin;
    if (o.orgId !== undefined) this.writeOffers({ ...this.offers(), [String(o.orgId)]: pkg.version });
    const connected = deviceIds.filter((id) => this.ctx.agents.isConnected(id));
    this.send(connected, pkg, origin);
    this.ctx.log.info({ version: pkg.version, devices: connected.length }, "agent upgrade offered");
    return { version: pkg.version, notified: connected.length };
  }

  private lastOrigin: string | null = null;

  private send(deviceIds: readonly number[], pkg: AgentPackage, origin: string): void {
    const url = `${origin}/api/v1/agent-packages/${encodeURIComponent(pkg.version)}/download`;
    this.ctx.agents.emit(deviceIds, "upgrade-available", { version: pkg.version, url, sha256: pkg.sha256, signature: pkg.signature });
    authorityMetricsOf(this.ctx)?.upgradesOffered.inc(deviceIds.length);
  }

  private get offersFile(): string {
    return join(this.dataDir, PACKAGES_DIR, "offers.json");
  }

  /** The standing offers, by org id. */
  offers(): Record<string, string> {
    try {
      return existsSync(this.offersFile) ? (JSON.parse(readFileSync(this.offersFile, "utf8")) as Record<string, string>) : {};
    } catch {
      return {};
    }
  }

  private writeOffers(o: Record<string, string>): void {
    mkdirSync(join(this.dataDir, PACKAGES_DIR), { recursive: true, mode: 0o700 });
    writeSecretFile(this.offersFile, `${JSON.stringify(o, null, 2)}\n`);
  }

  /** An agent connected: its org's standing offer, unless it reported that version or newer. */
  connected(e: { deviceId: number; orgId: number; agentVersion: string | null }): void {
    const version = this.offers()[String(e.orgId)];
    if (version === undefined) return;
    if (e.agentVersion !== null && compareVersions(packageVersionOf(e.agentVersion), version) >= 0) return;
    let pkg: AgentPackage;
    try {
      pkg = getAgentPackage(this.dataDir, version);
    } catch {
      return;
    }
    const origin = this.publicUrl !== undefined ? new URL(this.publicUrl).origin : (this.lastOrigin ?? `https://localhost`);
    this.send([e.deviceId], pkg, origin);
    this.ctx.log.info({ version, deviceId: e.deviceId }, "standing agent upgrade offered at connection");
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
      const off = ctx.events.on("agent-connected", (e) => {
        try {
          svc.connected(e);
        } catch (err) {
          ctx.log.warn({ err }, "standing upgrade offer not sent");
        }
      });
      api.app.addHook("onClose", async () => off());
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
