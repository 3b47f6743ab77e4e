/**
 * The authority's self-signed TLS certificate (made at `init`; peers pin its SHA-256
 * fingerprint): ECDSA P-256, valid for localhost, 127.0.0.1, ::1 and any host names given.
 */
import { isIP } from "node:net";
import { certFingerprint, type Clock, DAY_MS } from "@cairn/protocol";
import selfsigned from "selfsigned";

/** A certificate and its key, PEM. */
export interface TlsMaterial {
  key: string;
  cert: string;
  /** SHA-256 fingerprint, `AB:CD:…`. */
  fingerprint: string;
}

/** Makes a certificate for `hostnames` (plus the loopback names), valid for ten years. */
export async function createCertificate(hostnames: readonly string[], clock: Clock): Promise<TlsMaterial> {
  const names = [...new Set(["localhost", "127.0.0.1", "::1", ...hostnames])];
  const now = clock.now();
  const pems = await selfsigned.generate([{ name: "commonName", value: hostnames[0] ?? "cairn-authority" }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    // identity is the pinned fingerprint: a month back, so that a device whose clock is behind
    // (T16) still connects to an authority set up today
    notBeforeDate: new Date(now - 30 * DAY_MS),
    notAfterDate: new Date(now + 3650 * DAY_MS),
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames: names.map((n) => (isIP(n) ? { type: 7 as const, ip: n } : { type: 2 as const, value: n })) },
    ],
  });
  return { key: pems.private, cert: pems.cert, fingerprint: certFingerprint(pems.cert) };
}
