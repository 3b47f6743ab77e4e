/**
 * T34 from the agent's side: it talks to storage nodes over `wss` only, checks the node's
 * certificate against the fingerprint the authority gave it, and sends nothing (no storage token,
 * no request) to a server that fails that check: a real node with a wrong pin, a `ws://` URL, and
 * a rogue TLS server with its own self-signed certificate where the node should be.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBackup } from "@cairn/agent";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestNode, type TestArchive, type TestNode } from "./agent-helpers.js";

const logger = pino({ level: "silent" });

describe("T34: the agent verifies the node before it sends anything", () => {
  let tn: TestNode;
  let other: TestNode;
  let archive: TestArchive;
  let rogue: Server;
  const seen: string[] = [];
  let tcp = 0;
  const work = mkdtempSync(join(tmpdir(), "cairn-e2e-tls-"));
  const src = join(work, "src");
  const sel = { include: [src], exclude: [], excludePatterns: [] };
  let n = 0;
  const backup = (a: TestArchive) => runBackup({ dataDir: join(work, `agent${n++}`), archives: [a], selection: sel, logger });
  beforeAll(async () => {
    tn = await startTestNode();
    other = await startTestNode();
    archive = await tn.newArchive();
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, "secret.txt"), "not for the rogue\n");
    // a rogue server with a self-signed certificate of its own (another node's), logging every request
    const tls = join(other.dir, "node", "tls");
    rogue = createServer({ key: readFileSync(join(tls, "key.pem")), cert: readFileSync(join(tls, "cert.pem")) }, (req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ""}`);
      res.end();
    });
    rogue.on("upgrade", (req, socket) => {
      seen.push(`UPGRADE ${req.url} ${req.headers.authorization ?? ""}`);
      socket.destroy();
    });
    rogue.on("connection", () => tcp++);
    await new Promise<void>((r) => rogue.listen(0, "127.0.0.1", () => r()));
  }, 60_000);
  afterAll(async () => {
    rogue?.close();
    await tn?.close();
    await other?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("refuses the real node when the pinned fingerprint is not its certificate's", async () => {
    const wrong = { ...archive, endpoint: { ...archive.endpoint, fingerprint: other.node.fingerprint } };
    await expect(backup(wrong)).rejects.toMatchObject({ code: "TLS_FINGERPRINT_MISMATCH" });
  });

  it("refuses a plain ws:// node URL before connecting", async () => {
    const plain = { ...archive, endpoint: { ...archive.endpoint, url: archive.endpoint.url.replace(/^wss:/, "ws:") } };
    await expect(backup(plain)).rejects.toMatchObject({ code: "CONFIG_INVALID" });
  });

  it("sends no request and no token to a rogue server where the node should be", async () => {
    const port = (rogue.address() as AddressInfo).port;
    const misdirected = { ...archive, endpoint: { ...archive.endpoint, url: `wss://127.0.0.1:${port}/v1/data` } };
    await expect(backup(misdirected)).rejects.toMatchObject({ code: "TLS_FINGERPRINT_MISMATCH" });
    // the agent did reach the rogue, and hung up before any request (the token is in one)
    expect(tcp).toBeGreaterThan(0);
    expect(seen).toEqual([]);
  });

  it("the right pin on the real node works (positive control)", async () => {
    const r = await backup(archive);
    expect(r.errors).toBe(0);
    expect(r.files).toBe(1);
  });
});
