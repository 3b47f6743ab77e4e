/**
 * One WebSocket link to a Cairn server (storage node or authority), with the certificate pinned
 * by its SHA-256 fingerprint before any credential is sent:
 *
 * 1. a probe TLS connection (through the proxy when `HTTPS_PROXY` is set) sends a bare `HEAD`
 *    without credentials, reads the server certificate and compares its fingerprint;
 * 2. the real connection trusts exactly that certificate (`ca`) and checks the fingerprint again
 *    in `checkServerIdentity`, so a server swapped in between fails the handshake itself;
 * 3. the upgrade carries `Authorization: Bearer …` and offers subprotocol `cairn.v1`.
 *
 * The link pings every 15 s and drops a peer that misses two pongs (a stalled, half-open
 * connection is detected within ~30 s).
 */
import { request as httpsRequest } from "node:https";
import type { Agent } from "node:http";
import type { TLSSocket } from "node:tls";
import { X509Certificate } from "node:crypto";
import { HttpsProxyAgent } from "https-proxy-agent";
import WebSocket from "ws";
import {
  CairnError,
  type ChannelSpec,
  createPeer,
  fingerprintsMatch,
  HEARTBEAT_INTERVAL_MS,
  isCairnError,
  isErrorCode,
  PROTOCOL_VERSIONS,
  type RpcPeer,
  subprotocolName,
  toBuffer,
} from "@cairn/protocol";

/** Where to connect. */
export interface LinkTarget {
  /** `wss://host:port/path`. */
  url: string;
  /** Pinned SHA-256 fingerprint of the server certificate. */
  fingerprint: string;
  /** Bearer credential for the upgrade request; null for unauthenticated (register). */
  token: string | null;
  /** HTTPS CONNECT proxy, or null: see {@link ProxySetting}. */
  proxy?: ProxySetting;
  /** Connect timeout (default 15 s). */
  timeoutMs?: number;
}

/**
 * The proxy a link goes through: a URL (the device's own `HTTPS_PROXY` or config file; a link
 * that cannot reach it fails), `{ url, fallbackDirect }` (the organization's `proxyUrl`: when the
 * proxy cannot be reached the link goes straight to the server, so a wrong setting cannot cut the
 * device off from the authority that would correct it), or null (direct).
 */
export type ProxySetting = string | { url: string; fallbackDirect: true } | null | undefined;

function proxyUrlOf(p: ProxySetting): string | null {
  return p == null ? null : typeof p === "string" ? p : p.url;
}

const pinnedPem = new Map<string, string>();

function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

function proxyAgent(proxy: ProxySetting): Agent | undefined {
  const url = proxyUrlOf(proxy);
  return url ? (new HttpsProxyAgent(url) as unknown as Agent) : undefined;
}

function httpsUrl(wss: string): URL {
  const u = new URL(wss);
  if (u.protocol !== "wss:") throw new CairnError("CONFIG_INVALID", `only wss:// URLs are allowed: ${wss}`);
  u.protocol = "https:";
  return u;
}

/** Fetches the server certificate without sending credentials, and checks its fingerprint. */
export async function probeCertificate(target: LinkTarget): Promise<string> {
  const u = httpsUrl(target.url);
  const key = `${u.host}|${target.fingerprint}`;
  const cached = pinnedPem.get(key);
  if (cached) return cached;
  const pem = await new Promise<string>((resolve, reject) => {
    const agent = proxyAgent(target.proxy) ?? false;
    const req = httpsRequest(
      { host: u.hostname, port: u.port || 443, method: "HEAD", path: "/healthz", rejectUnauthorized: false, agent, timeout: target.timeoutMs ?? 15_000 },
      (res) => {
        res.resume();
      },
    );
    req.on("socket", (s) => {
      const tls = s as TLSSocket;
      const check = () => {
        try {
          const raw = tls.getPeerCertificate(true)?.raw;
          if (!raw) throw new CairnError("TLS_FINGERPRINT_MISMATCH", `${u.host} presented no certificate`);
          const cert = new X509Certificate(raw);
          if (!fingerprintsMatch(cert.fingerprint256, target.fingerprint)) {
            throw new CairnError("TLS_FINGERPRINT_MISMATCH", `the certificate of ${u.host} does not match the pinned fingerprint`);
          }
          resolve(cert.toString());
        } catch (err) {
          reject(err);
        }
        req.destroy();
      };
      const got = typeof tls.getPeerCertificate === "function" ? tls.getPeerCertificate() : undefined;
      if (got && Object.keys(got).length > 0) check();
      else tls.once("secureConnect", check);
    });
    req.on("timeout", () => req.destroy(new CairnError("TIMEOUT", `connecting to ${u.host} timed out`)));
    req.on("error", (err) => reject(toConnectError(err, u.host)));
    req.end();
  });
  pinnedPem.set(key, pem);
  return pem;
}

function toConnectError(err: unknown, host: string): CairnError {
  if (err instanceof CairnError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  // the pinned certificate, judged by this device's clock: say so (the clock is what to fix)
  if (code === "CERT_NOT_YET_VALID" || code === "CERT_HAS_EXPIRED")
    return new CairnError(
      "UNAVAILABLE",
      `cannot connect to ${host}: its certificate is ${code === "CERT_NOT_YET_VALID" ? "not valid yet" : "expired"} by this device's clock; check the date and time of this device${code === "CERT_HAS_EXPIRED" ? " or renew the server's certificate" : ""} (${code})`,
      { cause: err },
    );
  return new CairnError("UNAVAILABLE", `cannot reach ${host}${code ? ` (${code})` : ""}`, { cause: err });
}

/** An open link: the socket and its RPC peer. */
export interface Link<L extends ChannelSpec["a"], R extends ChannelSpec["a"]> {
  ws: WebSocket;
  peer: RpcPeer<L, R>;
  /** Resolves when the socket closes (never rejects). */
  closed: Promise<{ code: number; reason: string }>;
  close(code?: number, reason?: string): void;
}

/** Options of {@link openLink}. */
export interface OpenLinkOptions<C extends ChannelSpec> {
  channel: C;
  maxFrameBytes: number;
  handlers?: Parameters<typeof createPeer<C, "b">>[2]["handlers"];
  onEvent?: Parameters<typeof createPeer<C, "b">>[2]["onEvent"];
  onFrame?: Parameters<typeof createPeer<C, "b">>[2]["onFrame"];
  onHandlerError?: (method: string, err: unknown) => void;
  timeoutMs?: number;
}

/** Connects, pins, upgrades and wires an RPC peer (side "b" of the channel: the agent). */
export async function openLink<C extends ChannelSpec>(target: LinkTarget, opts: OpenLinkOptions<C>): Promise<Link<C["b"], C["a"]>> {
  const p = target.proxy;
  if (p == null || typeof p === "string") return openLinkVia(target, opts);
  try {
    return await openLinkVia(target, opts);
  } catch (err) {
    // Only a proxy that cannot be reached (or never answers) falls back; a refused token or a
    // wrong certificate is the server's answer and stands.
    if (!isCairnError(err, "UNAVAILABLE") && !isCairnError(err, "TIMEOUT")) throw err;
    return openLinkVia({ ...target, proxy: null }, opts);
  }
}

async function openLinkVia<C extends ChannelSpec>(target: LinkTarget, opts: OpenLinkOptions<C>): Promise<Link<C["b"], C["a"]>> {
  const pem = await probeCertificate(target);
  const u = httpsUrl(target.url);
  const headers: Record<string, string> = {};
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  const ws = new WebSocket(
    target.url,
    PROTOCOL_VERSIONS.map((v) => subprotocolName(v)),
    {
      headers,
      ca: [pem],
      rejectUnauthorized: true,
      checkServerIdentity: (_host: string, cert: { fingerprint256?: string }) =>
        cert.fingerprint256 && fingerprintsMatch(cert.fingerprint256, target.fingerprint)
          ? undefined
          : new CairnError("TLS_FINGERPRINT_MISMATCH", `the certificate of ${u.host} does not match the pinned fingerprint`),
      perMessageDeflate: false,
      // An all-zero masking key: `ws` then neither masks (a copy of every payload) nor unmasks.
      // Masking (RFC 6455 §10.3) protects intermediaries from scripts that choose cleartext
      // frame bytes; here every frame travels inside TLS to a pinned certificate and no script
      // chooses its bytes, so the key buys nothing and costs a copy of every block.
      generateMask: zeroMask,
      maxPayload: opts.maxFrameBytes,
      handshakeTimeout: target.timeoutMs ?? 15_000,
      agent: proxyAgent(target.proxy),
    } as unknown as WebSocket.ClientOptions,
  );
  ws.binaryType = "nodebuffer";
  const peer = createPeer(opts.channel, "b", {
    send: (frame) => ws.send(frame),
    maxFrameBytes: opts.maxFrameBytes,
    handlers: opts.handlers,
    onEvent: opts.onEvent,
    onFrame: opts.onFrame,
    onHandlerError: opts.onHandlerError,
    onProtocolError: (err) => ws.close(err.spec.close >= 4000 || err.spec.close === 1008 ? err.spec.close : 1002, err.message.slice(0, 120)),
    timeoutMs: opts.timeoutMs ?? 60_000,
  } as Parameters<typeof createPeer<C, "b">>[2]) as unknown as RpcPeer<C["b"], C["a"]>;
  await new Promise<void>((resolve, reject) => {
    const onUnexpected = (
      _req: unknown,
      res: { statusCode?: number; headers: Record<string, string | string[] | undefined>; resume(): void; on: (e: string, f: (b: Buffer) => void) => void },
    ) => {
      let body = "";
      res.on("data", (b: Buffer) => {
        if (body.length < 4000) body += b.toString("utf8");
      });
      res.on("end", () => reject(upgradeError(res.statusCode ?? 0, body, u.host)));
      res.on("error", () => reject(upgradeError(res.statusCode ?? 0, body, u.host)));
    };
    ws.once("unexpected-response", onUnexpected as never);
    ws.once("open", () => resolve());
    ws.once("error", (err) => reject(toConnectError(err, u.host)));
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on("close", (code, reason) => {
      const r = reason.toString("utf8");
      peer.close(closeError(code, r));
      resolve({ code, reason: r });
    });
  });
  ws.on("error", () => {
    // 'close' follows and settles the peer
  });
  ws.on("message", (data, isBinary) => {
    if (!isBinary) {
      ws.close(1003, "binary frames only");
      return;
    }
    peer.receive(toBuffer(data as Buffer));
  });
  let alive = true;
  ws.on("pong", () => {
    alive = true;
  });
  const ping = setInterval(() => {
    if (!alive) {
      ws.terminate();
      return;
    }
    alive = false;
    try {
      ws.ping();
    } catch {
      // closing
    }
  }, HEARTBEAT_INTERVAL_MS);
  ping.unref();
  ws.on("close", () => clearInterval(ping));
  return {
    ws,
    peer,
    closed,
    close: (code = 1000, reason = "") => {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code, reason);
    },
  };
}

function closeError(code: number, reason: string): CairnError {
  if (code === 4401 || code === 4001) return new CairnError("UNAUTHORIZED", reason || "the server closed the connection: not authorized");
  return new CairnError("CONNECTION_LOST", `connection closed (${code}${reason ? `: ${reason}` : ""})`);
}

function upgradeError(status: number, body: string, host: string): CairnError {
  let parsed: { code?: unknown; error?: unknown; message?: unknown } | undefined;
  try {
    parsed = JSON.parse(body) as typeof parsed;
    if (parsed && typeof parsed.error === "object" && parsed.error !== null) parsed = parsed.error as typeof parsed;
  } catch {
    parsed = undefined;
  }
  const code = typeof parsed?.code === "string" ? parsed.code : typeof parsed?.error === "string" ? parsed.error : undefined;
  const message = typeof parsed?.message === "string" ? parsed.message : `${host} refused the connection (HTTP ${status})`;
  if (isErrorCode(code)) return new CairnError(code, message);
  if (status === 401) return new CairnError("UNAUTHORIZED", message);
  if (status === 403) return new CairnError("FORBIDDEN", message);
  if (status === 426) return new CairnError("PROTOCOL_VERSION_UNSUPPORTED", message);
  if (status === 409) return new CairnError("ARCHIVE_IN_USE", message);
  return new CairnError("UNAVAILABLE", message);
}
