/**
 * The node's TLS certificate: self-signed (ECDSA P-256, SHA-256), made once at `init` and kept
 * in `<data>/tls/` (key 0600). Peers pin its SHA-256 fingerprint, handed out by the authority
 * (agents) or in the provider key (tenant authorities).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { certFingerprint, type Clock } from "@cairn/protocol";
import { generate } from "selfsigned";

/** The node's key and certificate (PEM). */
export interface NodeTls {
  key: string;
  cert: string;
  fingerprint: string;
}

/** Validity of the self-signed certificate: ten years, since peers pin it rather than trust a CA. */
const CERT_VALIDITY_MS = 10 * 365 * 24 * 60 * 60 * 1000;

/** Creates the certificate if the data directory has none; returns it. */
export async function ensureTls(dataDir: string, clock: Clock, extraNames: readonly string[] = []): Promise<NodeTls> {
  const dir = join(dataDir, "tls");
  if (existsSync(join(dir, "cert.pem"))) return loadTls(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const names = [...new Set(["localhost", hostname(), ...extraNames])];
  const pems = await generate([{ name: "commonName", value: "cairn-storenode" }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    // identity is the pinned fingerprint: the validity starts a month back so that a device
    // whose clock is behind (T16) still connects to a node set up today
    notBeforeDate: new Date(clock.now() - 30 * 24 * 60 * 60 * 1000),
    notAfterDate: new Date(clock.now() + CERT_VALIDITY_MS),
    extensions: [
      { name: "basicConstraints", cA: true },
      { name: "keyUsage", digitalSignature: true, keyCertSign: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames: [...names.map((n) => ({ type: 2 as const, value: n })), { type: 7, ip: "127.0.0.1" }, { type: 7, ip: "::1" }] },
    ],
  });
  writeFileSync(join(dir, "key.pem"), pems.private, { mode: 0o600 });
  writeFileSync(join(dir, "cert.pem"), pems.cert, { mode: 0o644 });
  return { key: pems.private, cert: pems.cert, fingerprint: certFingerprint(pems.cert) };
}

/** Reads the certificate made at init. */
export function loadTls(dataDir: string): NodeTls {
  const dir = join(dataDir, "tls");
  const cert = readFileSync(join(dir, "cert.pem"), "utf8");
  return { key: readFileSync(join(dir, "key.pem"), "utf8"), cert, fingerprint: certFingerprint(cert) };
}
