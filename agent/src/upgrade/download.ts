/**
 * HTTPS GETs to the authority the device registered with, over a TLS connection pinned to the
 * authority's certificate fingerprint (the same pin as the control link), with the device token
 * as Bearer: the package-signing key and agent packages. Only the path of an offered URL is used:
 * the bytes always come from the registered authority, so the device token never goes elsewhere.
 */
import { createHash } from "node:crypto";
import { createWriteStream, renameSync, rmSync } from "node:fs";
import type { Agent } from "node:https";
import { request } from "node:https";
import { CairnError, fingerprintsMatch } from "@cairn/protocol";
import { HttpsProxyAgent } from "https-proxy-agent";
import { agentChannelUrl } from "../auth/authority-client.js";
import { probeCertificate } from "../net/ws-link.js";

/** The registered authority. */
export interface AuthorityTarget {
  /** `https://host:port` as in credentials.json. */
  url: string;
  fingerprint: string;
  /** The device token (null for the public key route). */
  token: string | null;
  proxy: string | null;
}

/** The largest package accepted. */
export const MAX_PACKAGE_BYTES = 2 * 1024 ** 3;

async function get(t: AuthorityTarget, path: string, timeoutMs: number) {
  const base = new URL(t.url);
  const pem = await probeCertificate({ url: agentChannelUrl(t.url), fingerprint: t.fingerprint, token: null, proxy: t.proxy, timeoutMs });
  return new Promise<import("node:http").IncomingMessage>((resolve, reject) => {
    const req = request(
      {
        host: base.hostname,
        port: base.port || 443,
        path,
        method: "GET",
        headers: t.token ? { authorization: `Bearer ${t.token}` } : {},
        ca: [pem],
        rejectUnauthorized: true,
        checkServerIdentity: (_host: string, cert: { fingerprint256?: string }) =>
          cert.fingerprint256 && fingerprintsMatch(cert.fingerprint256, t.fingerprint)
            ? undefined
            : new CairnError("TLS_FINGERPRINT_MISMATCH", `the certificate of ${base.host} does not match the pinned fingerprint`),
        timeout: timeoutMs,
        ...(t.proxy ? { agent: new HttpsProxyAgent(t.proxy) as unknown as Agent } : {}),
      },
      resolve,
    );
    req.on("timeout", () => req.destroy(new CairnError("TIMEOUT", `the authority did not answer ${path}`)));
    req.on("error", (err) =>
      reject(err instanceof CairnError ? err : new CairnError("UNAVAILABLE", `cannot reach ${base.host}: ${err.message}`, { cause: err })),
    );
    req.end();
  });
}

async function refuse(res: import("node:http").IncomingMessage, what: string): Promise<never> {
  let body = "";
  for await (const c of res) if (body.length < 2000) body += String(c);
  const code = res.statusCode === 401 ? "UNAUTHORIZED" : res.statusCode === 404 ? "NOT_FOUND" : "UNAVAILABLE";
  throw new CairnError(code, `the authority refused ${what} (HTTP ${res.statusCode}): ${body.slice(0, 200)}`);
}

/** The authority's package-signing key `{keyId, publicKey}`. */
export async function fetchPackageKey(t: AuthorityTarget, timeoutMs = 15_000): Promise<{ keyId: string; publicKey: string }> {
  const res = await get(t, "/api/v1/agent-packages/signing-key", timeoutMs);
  if (res.statusCode !== 200) return refuse(res, "the package-signing key");
  let body = "";
  for await (const c of res) {
    body += String(c);
    if (body.length > 10_000) throw new CairnError("PROTOCOL_MALFORMED", "the package-signing key answer is too long");
  }
  const j = JSON.parse(body) as { data?: { keyId?: unknown; publicKey?: unknown } };
  if (typeof j.data?.publicKey !== "string" || typeof j.data.keyId !== "string")
    throw new CairnError("PROTOCOL_MALFORMED", "the authority's package-signing key answer is malformed");
  return { keyId: j.data.keyId, publicKey: j.data.publicKey };
}

/**
 * Downloads an offered package into `dest` (via `dest.part`), hashing it on the way; refuses
 * (PACKAGE_SIGNATURE_INVALID) a file whose SHA-256 is not the signed one, and removes it.
 */
export async function downloadPackage(t: AuthorityTarget, offeredUrl: string, dest: string, sha256Hex: string, timeoutMs = 60_000): Promise<number> {
  let path: string;
  try {
    const u = new URL(offeredUrl, t.url);
    path = `${u.pathname}${u.search}`;
  } catch (cause) {
    throw new CairnError("PROTOCOL_MALFORMED", "the offered package URL is not a URL", { cause });
  }
  if (!path.startsWith("/api/v1/agent-packages/")) throw new CairnError("PROTOCOL_MALFORMED", "the offered package URL is not the authority's package route");
  const res = await get(t, path, timeoutMs);
  if (res.statusCode !== 200) return refuse(res, "the package download");
  const part = `${dest}.part`;
  const h = createHash("sha256");
  let size = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const out = createWriteStream(part, { mode: 0o600 });
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_PACKAGE_BYTES) res.destroy(new CairnError("PAYLOAD_TOO_LARGE", "the package is larger than 2 GiB"));
        h.update(c);
      });
      res.on("error", (err) => {
        out.destroy();
        reject(err);
      });
      out.on("error", (err) => {
        res.destroy();
        reject(err);
      });
      out.on("finish", () => resolve());
      res.pipe(out);
    });
    const got = h.digest("hex");
    if (got !== sha256Hex)
      throw new CairnError(
        "PACKAGE_SIGNATURE_INVALID",
        `the downloaded package's SHA-256 ${got} is not the signed ${sha256Hex}: altered in storage or on the way`,
      );
    renameSync(part, dest);
    return size;
  } catch (err) {
    rmSync(part, { force: true });
    throw err;
  }
}
