/**
 * Provider destinations (DECISIONS.md "Provider tenants"): another operator's storage node issued
 * a provider key (format: `@cairn/protocol` provider-key.ts, `cairnpk1.` + base64url JSON with the
 * node's URLs, certificate fingerprint, a one-time credential, the tenant's name and quota). This
 * authority dials the node (outbound only): `tenant-register` with the credential and our public
 * signing keys once, then `Authorization: Bearer <tenant secret>` on every link, kept up with
 * jittered exponential backoff (1 s to 60 s). Over it the node is served exactly like an own
 * node's link. The tenant secret is sealed at rest (`SecretBox(kek, "provider")`).
 */
import { CairnError, createPeer, decodeProviderKey, MAX_CONTROL_FRAME_BYTES, NODE_CHANNEL, type ProviderKey, type ResultOf, toBuffer } from "@cairn/protocol";
import { SecretBox } from "../auth/secret-box.js";
import type { CoreDeps } from "../core.js";
import type { Server } from "../db/device-records.js";
import { serveNodeLink } from "../ws/node-link.js";
import { connectPinned, wsBase } from "../ws/pinned-client.js";
import type { NodeService } from "./node-service.js";
import { publicKeysOf } from "./storage-tokens.js";

const MIN_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 60_000;

/** What `tenant-register` answered. */
export type TenantRegistration = ResultOf<(typeof NODE_CHANNEL)["b"]["methods"], "tenant-register">;

/** The sealing context of a provider server's tenant secret. */
export const tenantSecretContext = (serverGuid: string) => `tenant:${serverGuid}`;

class Dialler {
  private stopped = false;
  private wake: (() => void) | null = null;
  private current: { close(code: number, reason: string): void } | null = null;
  readonly loop: Promise<void>;

  constructor(
    private readonly d: CoreDeps,
    private readonly service: NodeService,
    private readonly server: Server,
    private readonly secret: string,
  ) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let backoff = MIN_BACKOFF_MS;
    const log = this.d.log.child({ serverId: this.server.serverId, link: "provider" });
    while (!this.stopped) {
      // the node announces its addresses on every link: dial the latest ones
      const server = (await this.d.store.getServer(this.server.serverId).catch(() => undefined)) ?? this.server;
      for (const url of server.urls) {
        if (this.stopped) break;
        try {
          const ws = await connectPinned(`${wsBase(url)}/v1/tenant`, { fingerprint: server.fingerprint ?? "", bearer: this.secret });
          if (this.stopped) {
            ws.close(1001, "authority shutting down");
            break;
          }
          backoff = MIN_BACKOFF_MS;
          const link = serveNodeLink({ ws, server, kind: "provider", service: this.service, log: this.d.log, now: this.d.clock.now() });
          this.current = link;
          await new Promise<void>((resolve) => ws.once("close", () => resolve()));
          this.current = null;
          break;
        } catch (err) {
          log.warn({ err, url, retryInMs: backoff }, "provider node link failed");
        }
      }
      if (this.stopped) break;
      await this.sleep(Math.floor(backoff / 2 + Math.random() * (backoff / 2)));
      backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      t.unref();
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    this.current?.close(1001, "authority shutting down");
    await this.loop;
  }
}

/** The links this authority keeps to provider nodes. */
export class ProviderLinks {
  private readonly diallers = new Map<number, Dialler>();
  private readonly box: SecretBox;
  private stopped = false;

  constructor(
    private readonly d: CoreDeps,
    private readonly service: NodeService,
  ) {
    this.box = new SecretBox(d.keys.escrowKek, "provider");
  }

  /** Seals a tenant secret for the servers table. */
  seal(serverGuid: string, secret: string): Buffer {
    return this.box.seal(Buffer.from(secret, "utf8"), tenantSecretContext(serverGuid));
  }

  /** Dials every provider server of an active destination. */
  async startAll(): Promise<void> {
    for (const s of await this.d.store.providerServers()) this.start(s);
  }

  /** Starts (or restarts) the link of one provider server. */
  start(server: Server): void {
    if (this.stopped || server.providerSecretSealed === null) return;
    const secret = this.box.open(server.providerSecretSealed, tenantSecretContext(server.serverGuid)).toString("utf8");
    void this.diallers.get(server.serverId)?.stop();
    this.diallers.set(server.serverId, new Dialler(this.d, this.service, server, secret));
  }

  /** Stops one server's link (its destination was removed). */
  async stopServer(serverId: number): Promise<void> {
    const d = this.diallers.get(serverId);
    this.diallers.delete(serverId);
    await d?.stop();
  }

  /**
   * Redeems a provider key: checks it, dials the node and registers as its tenant with our name
   * and public signing keys. PROVIDER_KEY_INVALID for a malformed key or a credential the node
   * refuses; UNAVAILABLE when the node cannot be reached. Nothing is stored here.
   */
  async redeem(text: unknown, authorityName: string): Promise<{ key: ProviderKey; registration: TenantRegistration }> {
    const key = decodeProviderKey(typeof text === "string" ? text : "");
    let lastErr: unknown = null;
    for (const url of key.urls) {
      let ws: Awaited<ReturnType<typeof connectPinned>>;
      try {
        ws = await connectPinned(`${wsBase(url)}/v1/tenant`, { fingerprint: key.fingerprint });
      } catch (err) {
        lastErr = err;
        continue;
      }
      const peer = createPeer(NODE_CHANNEL, "a", { send: (f) => ws.send(f), maxFrameBytes: MAX_CONTROL_FRAME_BYTES, timeoutMs: 30_000 });
      ws.on("message", (m) => peer.receive(toBuffer(m as Buffer)));
      ws.on("close", () => peer.close());
      try {
        const registration = await peer.call("tenant-register", {
          credential: key.credential,
          authorityGuid: this.d.authorityGuid,
          authorityName: authorityName.slice(0, 200),
          authorityPublicKeys: publicKeysOf(this.d.keys),
        });
        return { key, registration };
      } catch (err) {
        throw new CairnError("PROVIDER_KEY_INVALID", "The provider's storage node refused the key (used already, or revoked)", { cause: err });
      } finally {
        // the lasting link dials again with the tenant secret
        ws.close(1000, "registered");
      }
    }
    throw new CairnError("UNAVAILABLE", "The provider's storage node cannot be reached", { cause: lastErr });
  }

  /** Stops every link. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.diallers.values()].map((d) => d.stop()));
    this.diallers.clear();
  }
}
