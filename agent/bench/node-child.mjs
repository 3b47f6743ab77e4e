// Child process for the agent benchmark: a standalone storage node on 127.0.0.1 with one archive
// placed through its tenant link. Prints one JSON line {url, fingerprint, archiveGuid, token}.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createPeer,
  DEFAULT_RETENTION,
  decodeProviderKey,
  generateSigningKey,
  MAX_CONTROL_FRAME_BYTES,
  newGuid,
  NODE_CHANNEL,
  publicKeyInfo,
  signToken,
  STORAGE_TOKEN_TTL_MS,
  systemClock,
  toBuffer,
} from "@cairn/protocol";
import { createProviderKey, initStorenode, startStorenode } from "@cairn/storenode";
import WebSocket from "ws";

async function call(url, secret, method, params) {
  const ws = new WebSocket(url, ["cairn.v1"], {
    rejectUnauthorized: false,
    perMessageDeflate: false,
    headers: secret ? { authorization: `Bearer ${secret}` } : {},
  });
  ws.binaryType = "nodebuffer";
  await new Promise((res, rej) => {
    ws.once("open", res);
    ws.once("error", rej);
  });
  const peer = createPeer(NODE_CHANNEL, "a", { send: (f) => ws.send(f), maxFrameBytes: MAX_CONTROL_FRAME_BYTES, handlers: { "report-archives": () => ({}) } });
  ws.on("message", (d) => peer.receive(toBuffer(d)));
  try {
    return await peer.call(method, params);
  } finally {
    ws.close();
  }
}

const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), "cairn-bench-node-"));
const signing = generateSigningKey();
const dataDir = join(dir, "node");
await initStorenode({ dataDir, storePoints: [join(dir, "sp")], trustedAuthorityKeys: [publicKeyInfo(signing)] });
const node = await startStorenode({ dataDir, host: "127.0.0.1", port: 0, connectAuthority: false, maintenanceSchedule: null, verifySchedule: null });
const key = decodeProviderKey(createProviderKey({ dataDir, tenantName: "bench", urls: [node.url] }).providerKey);
const base = node.url.replace(/\/+$/, "");
const authorityGuid = newGuid();
const reg = await call(`${base}/v1/tenant`, null, "tenant-register", {
  credential: key.credential,
  authorityGuid,
  authorityName: "bench",
  authorityPublicKeys: [publicKeyInfo(signing)],
});
const a = { archiveGuid: newGuid(), deviceGuid: newGuid(), userUid: newGuid(), orgUid: newGuid(), destinationGuid: newGuid() };
await call(`${base}/v1/tenant`, reg.tenantSecret, "place-archive", { ...a, storePointId: null, quotaBytes: -1, retention: DEFAULT_RETENTION, cold: false });
const token = signToken(
  {
    typ: "storage",
    iss: authorityGuid,
    sub: a.deviceGuid,
    aud: a.destinationGuid,
    dev: a.deviceGuid,
    usr: a.userUid,
    org: a.orgUid,
    arc: a.archiveGuid,
    dst: a.destinationGuid,
    scope: "all",
  },
  signing,
  systemClock,
  STORAGE_TOKEN_TTL_MS,
);
process.stdout.write(
  `${JSON.stringify({ url: `${base}/v1/data`, fingerprint: node.fingerprint, archiveGuid: a.archiveGuid, token, dir, pid: process.pid })}\n`,
);
process.on("SIGTERM", async () => {
  await node.close();
  process.exit(0);
});
