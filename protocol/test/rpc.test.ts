import { describe, expect, it } from "vitest";
import { CairnError, isCairnError } from "../src/errors.js";
import { DATA_CHANNEL } from "../src/messages/data.js";
import { AGENT_CHANNEL } from "../src/messages/agent-control.js";
import { createPeer } from "../src/rpc.js";
import { encodeFrame } from "../src/codec.js";

function pair() {
  const errors: CairnError[] = [];
  const node = createPeer(DATA_CHANNEL, "a", {
    send: (f) => queueMicrotask(() => agent.receive(f)),
    maxFrameBytes: 1 << 20,
    onProtocolError: (e) => errors.push(e),
    timeoutMs: 2000,
  });
  const agent = createPeer(DATA_CHANNEL, "b", {
    send: (f) => queueMicrotask(() => node.receive(f)),
    maxFrameBytes: 1 << 20,
    onProtocolError: (e) => errors.push(e),
    timeoutMs: 2000,
  });
  return { node, agent, errors };
}

describe("RPC peer", () => {
  it("calls a method, validates params on receipt and the result on return", async () => {
    const { node, agent } = pair();
    node.handlers.have = ({ ids }) => ({ present: Buffer.alloc(Math.ceil(ids.length / 32 / 8), 0xff) });
    const r = await agent.call("have", { ids: Buffer.alloc(64) });
    expect(r.present).toEqual(Buffer.from([0xff]));
  });

  it("answers invalid params with PROTOCOL_MALFORMED without calling the handler", async () => {
    const { node, agent } = pair();
    let called = false;
    node.handlers.have = () => {
      called = true;
      return { present: Buffer.alloc(0) };
    };
    const err = await agent.call("have", { ids: Buffer.alloc(33) } as never).catch((e) => e);
    expect(isCairnError(err, "PROTOCOL_MALFORMED")).toBe(true);
    expect(called).toBe(false);
  });

  it("carries CairnErrors across and hides other errors as INTERNAL", async () => {
    const { node, agent } = pair();
    node.handlers["list-versions"] = () => {
      throw new CairnError("ARCHIVE_IN_USE", "held by another writer", { details: { holder: "x" } });
    };
    node.handlers["get-manifest"] = () => {
      throw new Error("secret internal path /var/lib/x");
    };
    const e1 = await agent.call("list-versions", {}).catch((e) => e);
    expect(isCairnError(e1, "ARCHIVE_IN_USE")).toBe(true);
    expect(e1.details).toEqual({ holder: "x" });
    const e2 = await agent.call("get-manifest", { seq: 1 }).catch((e) => e);
    expect(isCairnError(e2, "INTERNAL")).toBe(true);
    expect(e2.message).not.toContain("/var/lib");
  });

  it("rejects a result that does not match the schema (a hostile peer)", async () => {
    const { node, agent } = pair();
    node.handlers["list-versions"] = () => ({ versions: "nope" }) as never;
    const e = await agent.call("list-versions", {}).catch((x) => x);
    expect(isCairnError(e, "PROTOCOL_MALFORMED")).toBe(true);
  });

  it("streams blocks to the call that asked for them", async () => {
    const { node, agent } = pair();
    node.handlers.get = ({ ids }, ctx) => {
      const n = ids.length / 32;
      for (let i = 0; i < n; i++) ctx.sendBlock(ids.subarray(i * 32, i * 32 + 32), Buffer.from([i]));
      return { count: n };
    };
    const got: number[] = [];
    const r = await agent.call("get", { ids: Buffer.alloc(96) }, { onBlock: (b) => got.push(b.data?.[0] ?? -1) });
    expect(r.count).toBe(3);
    expect(got).toEqual([0, 1, 2]);
  });

  it("answers an unknown method with UNSUPPORTED", async () => {
    const { agent, node } = pair();
    void node;
    const e = await (agent as unknown as { call(m: string, p: unknown): Promise<unknown> }).call("nope", {}).catch((x) => x);
    expect(isCairnError(e, "UNSUPPORTED")).toBe(true);
  });

  it("times out and rejects pending calls on close", async () => {
    const { agent, node } = pair();
    node.handlers["list-versions"] = () => new Promise(() => {});
    node.handlers["renew-lease"] = () => new Promise(() => {});
    const slow = agent.call("list-versions", {}, { timeoutMs: 50 });
    await expect(slow).rejects.toMatchObject({ code: "TIMEOUT" });
    const pending = agent.call("renew-lease", { sessionId: "abcdefgh" });
    agent.close();
    await expect(pending).rejects.toMatchObject({ code: "CONNECTION_LOST" });
    await expect(agent.call("list-versions", {})).rejects.toMatchObject({ code: "CONNECTION_LOST" });
  });

  it("reports a malformed frame as a protocol error and stops", () => {
    const { agent, errors } = pair();
    agent.receive(Buffer.from("garbage"));
    expect(errors).toHaveLength(1);
    expect(errors[0]?.code).toBe("PROTOCOL_MALFORMED");
    expect(agent.closed).toBe(true);
  });

  it("rejects a frame of another channel and unknown events", () => {
    const { agent, errors } = pair();
    agent.receive(encodeFrame(AGENT_CHANNEL.id, { type: "evt", event: "heal", data: {} }));
    expect(errors[0]?.code).toBe("PROTOCOL_MALFORMED");
    const p2 = pair();
    p2.agent.receive(encodeFrame(DATA_CHANNEL.id, { type: "evt", event: "nope", data: {} }));
    expect(p2.errors[0]?.code).toBe("PROTOCOL_UNEXPECTED");
  });

  it("passes put/ack frames to onFrame and refuses them without one", () => {
    const seen: string[] = [];
    const peer = createPeer(DATA_CHANNEL, "a", {
      send: () => {},
      maxFrameBytes: 1 << 20,
      onFrame: (m) => {
        seen.push(m.type);
        return true;
      },
    });
    peer.receive(encodeFrame(DATA_CHANNEL.id, { type: "put", id: Buffer.alloc(32), sha: Buffer.alloc(32), data: Buffer.from("x") }));
    expect(seen).toEqual(["put"]);
    const errs: string[] = [];
    const bare = createPeer(DATA_CHANNEL, "b", { send: () => {}, maxFrameBytes: 1 << 20, onProtocolError: (e) => errs.push(e.code) });
    bare.receive(encodeFrame(DATA_CHANNEL.id, { type: "put", id: Buffer.alloc(32), sha: Buffer.alloc(32), data: Buffer.from("x") }));
    expect(errs).toEqual(["PROTOCOL_UNEXPECTED"]);
  });
});

describe("RPC peer and abort signals", () => {
  it("removes its abort listener when a call settles (no accumulation on a long-lived signal)", async () => {
    const { node, agent } = pair();
    node.handlers["list-versions"] = () => ({ versions: [] });
    const ac = new AbortController();
    let added = 0;
    let removed = 0;
    const orig = { add: ac.signal.addEventListener.bind(ac.signal), remove: ac.signal.removeEventListener.bind(ac.signal) };
    ac.signal.addEventListener = ((...a: Parameters<typeof orig.add>) => {
      added++;
      return orig.add(...a);
    }) as typeof orig.add;
    ac.signal.removeEventListener = ((...a: Parameters<typeof orig.remove>) => {
      removed++;
      return orig.remove(...a);
    }) as typeof orig.remove;
    for (let i = 0; i < 20; i++) await agent.call("list-versions", {}, { signal: ac.signal });
    expect(added).toBe(20);
    expect(removed).toBe(20);
  });
});
