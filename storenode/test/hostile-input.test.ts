import { randomBytes } from "node:crypto";
import { connect, type TLSSocket } from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import { storageToken } from "../src/testing.js";
import { httpsGet } from "./helpers/http.js";
import { type NodeFixture, startNode, testPlacement } from "./helpers/node.js";

let fx: NodeFixture | undefined;
afterEach(async () => {
  await fx?.teardown();
  fx = undefined;
});

/** H5: a hand-rolled WebSocket client over TLS, to craft frames ws itself would never send. */
async function rawUpgrade(port: number, path: string, headers: Record<string, string>): Promise<{ sock: TLSSocket; response: string; data: Buffer[] }> {
  const sock = await new Promise<TLSSocket>((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => resolve(s));
    s.once("error", reject);
  });
  const data: Buffer[] = [];
  sock.on("data", (d: Buffer) => data.push(d));
  sock.on("error", () => {});
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}`,
    "Sec-WebSocket-Version: 13",
    "Sec-WebSocket-Protocol: cairn.v1",
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  sock.write(`${lines.join("\r\n")}\r\n\r\n`);
  while (!Buffer.concat(data).includes("\r\n\r\n")) await new Promise((r) => setTimeout(r, 5));
  const all = Buffer.concat(data);
  const end = all.indexOf("\r\n\r\n") + 4;
  data.splice(0, data.length, all.subarray(end));
  return { sock, response: all.subarray(0, end).toString(), data };
}

/** Waits for the server's close frame and returns its status code. */
async function closeCode(sock: TLSSocket, data: Buffer[]): Promise<number> {
  await new Promise<void>((r) => (sock.closed ? r() : sock.once("close", () => r())));
  const all = Buffer.concat(data);
  // server frames are unmasked: 0x88, len, code (2 bytes)
  const at = all.indexOf(0x88);
  return at >= 0 ? all.readUInt16BE(at + 2) : -1;
}

function maskedHeader(opcode: number, fin: boolean, len: bigint): Buffer {
  const head = [(fin ? 0x80 : 0) | opcode];
  let ext: Buffer;
  if (len < 126n) {
    head.push(0x80 | Number(len));
    ext = Buffer.alloc(0);
  } else if (len < 65536n) {
    head.push(0x80 | 126);
    ext = Buffer.alloc(2);
    ext.writeUInt16BE(Number(len));
  } else {
    head.push(0x80 | 127);
    ext = Buffer.alloc(8);
    ext.writeBigUInt64BE(len);
  }
  return Buffer.concat([Buffer.from(head), ext, Buffer.alloc(4)]); // zero mask key
}

describe("T39: oversized, fragmented and bomb input", () => {
  it("closes a frame claiming 2^63 bytes with 1009 without allocating it", async () => {
    fx = await startNode();
    const p = testPlacement();
    await fx.tenant.peer.call("place-archive", p);
    const rss = process.memoryUsage().rss;
    const { sock, response, data } = await rawUpgrade(fx.node.port, "/v1/data", { Authorization: `Bearer ${storageToken(fx.key, p, fx.clock)}` });
    expect(response).toMatch(/^HTTP\/1.1 101/);
    sock.write(maskedHeader(2, true, 2n ** 63n - 1n));
    expect(await closeCode(sock, data)).toBe(1009);
    expect(process.memoryUsage().rss - rss).toBeLessThan(50 * 1024 * 1024);
    expect(await httpsGet(`${fx.node.url}/healthz`)).toMatchObject({ status: 200 });
  });

  it("closes a message split into too many fragments", async () => {
    fx = await startNode();
    const { sock, data } = await rawUpgrade(fx.node.port, "/v1/tenant", {});
    const frames: Buffer[] = [Buffer.concat([maskedHeader(2, false, 1n), Buffer.from([0x43])])];
    for (let i = 0; i < 3000; i++) frames.push(Buffer.concat([maskedHeader(0, false, 1n), Buffer.from([0])]));
    sock.write(Buffer.concat(frames));
    expect([1008, 1009]).toContain(await closeCode(sock, data));
  });

  it("refuses a header flood in the handshake", async () => {
    fx = await startNode();
    const flood: Record<string, string> = {};
    for (let i = 0; i < 2000; i++) flood[`x-flood-${i}`] = "a".repeat(20);
    const sock = await new Promise<TLSSocket>((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port: fx?.node.port ?? 0, rejectUnauthorized: false }, () => resolve(s));
      s.once("error", reject);
    });
    let reply = "";
    sock.on("data", (d: Buffer) => {
      reply += d.toString();
    });
    sock.on("error", () => {});
    sock.write(
      `GET /v1/tenant HTTP/1.1\r\nHost: x\r\n${Object.entries(flood)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join("")}\r\n`,
    );
    await new Promise<void>((r) => sock.once("close", () => r()));
    expect(reply.startsWith("HTTP/1.1 101")).toBe(false);
    expect(await httpsGet(`${fx.node.url}/healthz`)).toMatchObject({ status: 200 });
  });
});
