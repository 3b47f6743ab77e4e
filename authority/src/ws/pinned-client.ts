/**
 * The authority's outbound WebSocket (provider nodes, `wss://N/v1/tenant`): the node's
 * certificate is pinned by its SHA-256 fingerprint in the TLS handshake, before the upgrade
 * request (and its Authorization header) is written (T34). Refusals carry the node's
 * `{"error":{"code","message"}}` body.
 */
import { type ConnectionOptions, connect as tlsConnect, type TLSSocket } from "node:tls";
import { CairnError, fingerprintsMatch, fromWire, MAX_CONTROL_FRAME_BYTES, PROTOCOL_VERSIONS, subprotocolName } from "@cairn/protocol";
import WebSocket from "ws";

/** Options of {@link connectPinned}. */
export interface PinnedOptions {
  fingerprint: string;
  bearer?: string;
  handshakeTimeoutMs?: number;
}

/** `https://h:p` or `wss://h:p/` → `wss://h:p`. */
export function wsBase(url: string): string {
  return url.replace(/^https:/i, "wss:").replace(/\/+$/, "");
}

function refusal(status: number, body: string): CairnError {
  try {
    const j = JSON.parse(body) as { error?: { code?: string; message?: string } };
    if (j.error?.code) return fromWire({ code: j.error.code, message: j.error.message ?? `refused with HTTP ${status}` });
  } catch {
    // not JSON: by status
  }
  return new CairnError(status === 401 ? "UNAUTHORIZED" : status === 426 ? "PROTOCOL_VERSION_UNSUPPORTED" : "CONNECTION_LOST", `refused with HTTP ${status}`);
}

/** Opens a pinned wss connection; resolves once open. TLS_FINGERPRINT_MISMATCH, CONNECTION_LOST or the node's refusal. */
export function connectPinned(url: string, opts: PinnedOptions): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    let mismatch = false;
    const ws = new WebSocket(url, PROTOCOL_VERSIONS.map(subprotocolName), {
      perMessageDeflate: false,
      maxPayload: MAX_CONTROL_FRAME_BYTES,
      handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000,
      headers: opts.bearer ? { authorization: `Bearer ${opts.bearer}` } : {},
      createConnection: ((o: ConnectionOptions) => {
        const socket: TLSSocket = tlsConnect({ ...o, rejectUnauthorized: false });
        socket.once("secureConnect", () => {
          const fp = socket.getPeerCertificate().fingerprint256;
          if (!fp || !fingerprintsMatch(fp, opts.fingerprint)) {
            mismatch = true;
            socket.destroy(new CairnError("TLS_FINGERPRINT_MISMATCH", "the server's certificate does not match the pinned fingerprint"));
          }
        });
        return socket;
      }) as never,
    });
    let status = 0;
    let body = "";
    ws.once("unexpected-response", (_req, res) => {
      status = res.statusCode ?? 0;
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        if (body.length < 4000) body += c;
      });
      res.on("end", () => ws.emit("error", new Error("refused")));
    });
    ws.once("open", () => resolve(ws));
    ws.once("error", (err) => {
      if (mismatch) reject(new CairnError("TLS_FINGERPRINT_MISMATCH", "the server's certificate does not match the pinned fingerprint"));
      else if (status) reject(refusal(status, body));
      else reject(new CairnError("CONNECTION_LOST", `cannot connect to ${url}`, { cause: err }));
      ws.terminate();
    });
  });
}
