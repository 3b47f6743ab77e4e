/**
 * The authority's WebSocket peers as tests need them, built only from `@cairn/protocol` (the
 * world outside the authority): a storage node's end of `wss://A/v1/storenode` and an agent's end
 * of `wss://A/v1/agent`, over real TLS to the test authority.
 */
import {
  AGENT_CHANNEL,
  type ChannelSpec,
  createPeer,
  type Handlers,
  MAX_CONTROL_FRAME_BYTES,
  NODE_CHANNEL,
  type nodeStorenodeMethods,
  type RpcPeer,
  type StorePointInfo,
  toBuffer,
} from "@cairn/protocol";
import WebSocket from "ws";
import type { TestAuthority } from "../src/testing.js";

/** Why an upgrade was refused. */
export interface Refusal {
  status: number;
  body: string;
}

/** Opens a socket; resolves with it, or rejects with the refusal. */
export function openSocket(a: TestAuthority, path: string, o: { bearer?: string; origin?: string; protocols?: string[] } = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (o.bearer !== undefined) headers.authorization = `Bearer ${o.bearer}`;
    const ws = new WebSocket(`${a.url.replace("https:", "wss:")}${path}`, o.protocols ?? ["cairn.v1"], {
      ca: a.certPem,
      perMessageDeflate: false,
      headers,
      ...(o.origin !== undefined ? { origin: o.origin } : {}),
    });
    ws.binaryType = "nodebuffer";
    ws.once("open", () => resolve(ws));
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => reject(Object.assign(new Error(`refused ${res.statusCode}`), { refusal: { status: res.statusCode ?? 0, body } as Refusal })));
    });
    ws.once("error", (err) => reject(err));
  });
}

/** The refusal of a failed {@link openSocket}. */
export async function refusalOf(p: Promise<WebSocket>): Promise<Refusal> {
  try {
    const ws = await p;
    ws.close();
  } catch (err) {
    const r = (err as { refusal?: Refusal }).refusal;
    if (r) return r;
    throw err;
  }
  throw new Error("the upgrade was accepted");
}

/** A peer of side `b` on an open socket, and when it closes. */
export function peerOn<C extends ChannelSpec>(
  ws: WebSocket,
  channel: C,
  o: { handlers?: object; onEvent?: (event: string, data: unknown) => void } = {},
): { peer: RpcPeer<C["b"], C["a"]>; closed: Promise<{ code: number; reason: string }>; events: { event: string; data: unknown }[] } {
  const events: { event: string; data: unknown }[] = [];
  const peer = createPeer(channel, "b", {
    send: (f) => ws.send(f),
    maxFrameBytes: MAX_CONTROL_FRAME_BYTES,
    handlers: (o.handlers ?? {}) as never,
    onEvent: ((event: string, data: unknown) => {
      events.push({ event, data });
      o.onEvent?.(event, data);
    }) as never,
  });
  ws.on("message", (d) => peer.receive(toBuffer(d as Buffer)));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on("close", (code, reason) => {
      peer.close();
      resolve({ code, reason: reason.toString("utf8") });
    }),
  );
  return { peer: peer as unknown as RpcPeer<C["b"], C["a"]>, closed, events };
}

/** Store points as a fake node announces them. */
export function storePoints(names: string[], freeBytes = 10 * 2 ** 30): StorePointInfo[] {
  return names.map((name) => ({ storePointId: null, name, totalBytes: 2 * freeBytes, freeBytes, acceptingNew: true, acceptingData: true }));
}

/** A fake storage node: enrolls with a key, then keeps a control link that takes placements. */
export interface FakeNode {
  serverGuid: string;
  nodeSecret: string;
  storePointIds: number[];
  placed: { archiveGuid: string; storePointId: number | null; destinationGuid: string; cold: boolean }[];
  revoked: unknown[];
  peer: RpcPeer<(typeof NODE_CHANNEL)["b"], (typeof NODE_CHANNEL)["a"]>;
  ws: WebSocket;
  close(): void;
}

/** Enrolls a fake node and opens its control link (announced). */
export async function fakeNode(a: TestAuthority, enrollKey: string, names = ["sp1"]): Promise<FakeNode> {
  const ews = await openSocket(a, "/v1/storenode");
  const e = peerOn(ews, NODE_CHANNEL);
  const r = await e.peer.call("enroll", {
    enrollKey,
    name: "fake-node",
    urls: ["wss://127.0.0.1:1"],
    fingerprint: "AB".repeat(32),
    storePoints: storePoints(names),
    nodeVersion: "0.0.0-test",
  });
  ews.close();
  const placed: FakeNode["placed"] = [];
  const revoked: unknown[] = [];
  const handlers: Handlers<typeof nodeStorenodeMethods> = {
    "place-archive": (p) => {
      placed.push({ archiveGuid: p.archiveGuid, storePointId: p.storePointId, destinationGuid: p.destinationGuid, cold: p.cold });
      return { archiveGuid: p.archiveGuid, storePointId: p.storePointId ?? (r.storePoints[0]?.storePointId as number) };
    },
    "update-archive": (p) => {
      const x = placed.find((y) => y.archiveGuid === p.archiveGuid);
      if (x) x.cold = p.cold;
      return {};
    },
    revoke: (p) => {
      revoked.push(...p.revocations);
      return {};
    },
  };
  const ws = await openSocket(a, "/v1/storenode", { bearer: r.nodeSecret });
  const { peer } = peerOn(ws, NODE_CHANNEL, { handlers });
  const ann = await peer.call("announce", {
    urls: ["wss://127.0.0.1:1"],
    fingerprint: "AB".repeat(32),
    storePoints: storePoints(names).map((s, i) => ({ ...s, storePointId: r.storePoints[i]?.storePointId ?? null })),
    connections: 0,
    nodeVersion: "0.0.0-test",
  });
  for (const p of ann.placements) placed.push({ archiveGuid: p.archiveGuid, storePointId: p.storePointId, destinationGuid: p.destinationGuid, cold: p.cold });
  return {
    serverGuid: r.serverGuid,
    nodeSecret: r.nodeSecret,
    storePointIds: r.storePoints.map((s) => s.storePointId),
    placed,
    revoked,
    peer,
    ws,
    close: () => ws.close(),
  };
}

/** An unauthenticated agent socket's `register`. */
export async function register(
  a: TestAuthority,
  o: { registrationKey: string; username: string; password: string; totp?: string | null; deviceName?: string; existingDeviceGuid?: string | null },
) {
  const ws = await openSocket(a, "/v1/agent");
  const { peer } = peerOn(ws, AGENT_CHANNEL);
  try {
    return await peer.call("register", {
      registrationKey: o.registrationKey,
      username: o.username,
      password: o.password,
      totp: o.totp ?? null,
      deviceName: o.deviceName ?? "test-device",
      hostname: "test-host",
      osName: "linux",
      osVersion: "6.1",
      osArch: "x64",
      agentVersion: "0.1.0",
      timeZone: "UTC",
      existingDeviceGuid: o.existingDeviceGuid ?? null,
    });
  } finally {
    ws.close();
  }
}

/** An agent's authenticated link. */
export async function agentLink(a: TestAuthority, deviceToken: string, handlers: object = {}) {
  const ws = await openSocket(a, "/v1/agent", { bearer: deviceToken });
  return { ws, ...peerOn(ws, AGENT_CHANNEL, { handlers }) };
}
