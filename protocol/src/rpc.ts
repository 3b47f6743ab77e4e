/**
 * A transport-agnostic RPC peer for one side of a channel. The socket layer feeds it every
 * inbound frame (`receive`) and gives it a `send` function; the peer validates, dispatches to
 * handlers, matches responses to calls and enforces timeouts. It never throws from `receive`:
 * a frame that fails validation is reported through `onProtocolError`, whose caller closes the
 * socket with the error's close code (no throw escapes a ws callback).
 *
 * Data-channel frames that are not RPC (`put`, `ack`, `nack`) go to `onFrame`; `block` frames
 * are routed to the call that asked for them.
 */
import { encodeFrame, decodeFrame, type Envelope } from "./codec.js";
import { CairnError, fromWire, isCairnError, toCairnError, type WireError } from "./errors.js";
import type { ChannelSide, ChannelSpec, MethodTable } from "./messages/common.js";
import { type Infer, validate } from "./schema.js";

type MethodsOf<S extends ChannelSide> = S["methods"];
type EventsOf<S extends ChannelSide> = S["events"];

/** A block frame as delivered to a streaming call. */
export interface BlockFrame {
  id: Buffer;
  data: Buffer | null;
  error: WireError | null;
}

/** Context passed to a method handler. */
export interface CallContext {
  /** The request id (for block streaming). */
  readonly reqId: number;
  /** Aborted when the peer closes. */
  readonly signal: AbortSignal;
  /** Streams a block frame answering this request (before the handler returns). */
  sendBlock(id: Uint8Array, data: Uint8Array | null, error?: WireError | null): void;
  /** Resolves when the transport can take more data (backpressure). */
  drain(): Promise<void>;
}

/** Handlers for the methods a side serves. */
export type Handlers<M extends MethodTable> = {
  -readonly [K in keyof M]?: (params: Infer<M[K]["params"]>, ctx: CallContext) => Promise<Infer<M[K]["result"]>> | Infer<M[K]["result"]>;
};

/** Options for {@link RpcPeer}. */
export interface RpcPeerOptions<L extends ChannelSide, R extends ChannelSide> {
  channel: ChannelSpec;
  /** Which side of the channel this peer is. */
  local: L;
  remote: R;
  /** Writes one frame to the transport. */
  send(frame: Buffer): void;
  /** Largest inbound frame. */
  maxFrameBytes: number;
  handlers?: Handlers<MethodsOf<L>>;
  onEvent?: <E extends keyof EventsOf<R> & string>(event: E, data: Infer<EventsOf<R>[E]>) => void;
  /** Non-RPC frames (put, ack, nack); return false to treat the frame as unexpected. */
  onFrame?: (msg: Extract<Envelope, { type: "put" | "ack" | "nack" }>) => boolean;
  /** A frame failed validation or was unexpected: close the transport with `err.spec.close`. */
  onProtocolError?: (err: CairnError) => void;
  /** A handler threw a non-Cairn error (for logging). */
  onHandlerError?: (method: string, err: unknown) => void;
  /** Default call timeout (ms). */
  timeoutMs?: number;
  drain?: () => Promise<void>;
}

interface Pending {
  method: string;
  resolve(v: unknown): void;
  reject(e: unknown): void;
  timer: ReturnType<typeof setTimeout> | undefined;
  timeoutMs: number;
  onBlock: ((b: BlockFrame) => void) | undefined;
  cleanup?: () => void;
}

/** Options for one call. */
export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Receives `block` frames streamed in answer to this call. */
  onBlock?: (b: BlockFrame) => void;
}

/** One side of a channel. */
export class RpcPeer<L extends ChannelSide, R extends ChannelSide> {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly abort = new AbortController();
  private closedWith: CairnError | null = null;
  private readonly opts: RpcPeerOptions<L, R>;
  handlers: Handlers<MethodsOf<L>>;

  constructor(opts: RpcPeerOptions<L, R>) {
    this.opts = opts;
    this.handlers = opts.handlers ?? {};
  }

  /** Number of calls awaiting a response. */
  get pendingCalls(): number {
    return this.pending.size;
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.closedWith !== null;
  }

  /** Calls a method the remote side serves; the result is validated against its schema. */
  call<M extends keyof MethodsOf<R> & string>(
    method: M,
    params: Infer<MethodsOf<R>[M]["params"]>,
    opts: CallOptions = {},
  ): Promise<Infer<MethodsOf<R>[M]["result"]>> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const spec = this.opts.remote.methods[method];
    if (!spec) return Promise.reject(new CairnError("UNSUPPORTED", `unknown method ${method}`));
    const id = this.nextId++;
    if (this.nextId > 2 ** 32 - 1) this.nextId = 1;
    const timeoutMs = opts.timeoutMs ?? this.opts.timeoutMs ?? 60_000;
    return new Promise((resolve, reject) => {
      const p: Pending = {
        method,
        resolve: (v) => {
          try {
            resolve(validate(spec.result, v, `${method} result`) as Infer<MethodsOf<R>[M]["result"]>);
          } catch (e) {
            reject(e);
          }
        },
        reject,
        timer: undefined,
        timeoutMs,
        onBlock: opts.onBlock,
      };
      this.arm(id, p);
      this.pending.set(id, p);
      if (opts.signal) {
        if (opts.signal.aborted) {
          this.settle(id, new CairnError("CANCELLED", `${method} cancelled`));
          return;
        }
        const signal = opts.signal;
        const onAbort = () => this.settle(id, new CairnError("CANCELLED", `${method} cancelled`));
        signal.addEventListener("abort", onAbort, { once: true });
        // Drop the listener when the call settles, so a long-lived signal does not accumulate them.
        p.cleanup = () => signal.removeEventListener("abort", onAbort);
      }
      try {
        this.opts.send(encodeFrame(this.opts.channel.id, { type: "req", id, method, params }));
      } catch (e) {
        this.settle(id, toCairnError(e, "CONNECTION_LOST", `sending ${method} failed`));
      }
    });
  }

  /** Sends a one-way event the remote side accepts. */
  emit<E extends keyof EventsOf<L> & string>(event: E, data: Infer<EventsOf<L>[E]>): void {
    if (this.closedWith) return;
    this.opts.send(encodeFrame(this.opts.channel.id, { type: "evt", event, data }));
  }

  /** Sends a non-RPC frame (put, ack, nack). */
  sendFrame(msg: Extract<Envelope, { type: "put" | "ack" | "nack" }>): void {
    if (this.closedWith) throw this.closedWith;
    this.opts.send(encodeFrame(this.opts.channel.id, msg));
  }

  /** Feeds one inbound frame. Never throws. */
  receive(frame: Uint8Array): void {
    if (this.closedWith) return;
    let msg: Envelope;
    try {
      msg = decodeFrame(frame, this.opts.channel.id, this.opts.maxFrameBytes);
    } catch (err) {
      this.protocolError(toCairnError(err, "PROTOCOL_MALFORMED"));
      return;
    }
    try {
      this.dispatch(msg);
    } catch (err) {
      this.protocolError(toCairnError(err, "PROTOCOL_MALFORMED"));
    }
  }

  /** Rejects every pending call and stops serving. Idempotent. */
  close(err: CairnError = new CairnError("CONNECTION_LOST", "connection closed")): void {
    if (this.closedWith) return;
    this.closedWith = err;
    this.abort.abort(err);
    for (const [id] of this.pending) this.settle(id, err);
  }

  private protocolError(err: CairnError): void {
    if (this.opts.onProtocolError) this.opts.onProtocolError(err);
    this.close(err);
  }

  private arm(id: number, p: Pending): void {
    if (p.timer) clearTimeout(p.timer);
    p.timer = setTimeout(() => this.settle(id, new CairnError("TIMEOUT", `${p.method} timed out after ${p.timeoutMs} ms`)), p.timeoutMs);
    p.timer.unref?.();
  }

  private settle(id: number, err: unknown, value?: unknown): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (p.timer) clearTimeout(p.timer);
    p.cleanup?.();
    if (err) p.reject(err);
    else p.resolve(value);
  }

  private dispatch(msg: Envelope): void {
    switch (msg.type) {
      case "req":
        this.serve(msg.id, msg.method, msg.params);
        return;
      case "res": {
        const p = this.pending.get(msg.id);
        if (!p) return; // late answer to a call that timed out or was cancelled
        this.settle(msg.id, null, msg.result);
        return;
      }
      case "err": {
        if (!this.pending.has(msg.id)) return;
        this.settle(msg.id, fromWire(msg.error));
        return;
      }
      case "evt": {
        const schema = (this.opts.remote.events as Record<string, unknown>)[msg.event] as Parameters<typeof validate>[0] | undefined;
        if (!schema) throw new CairnError("PROTOCOL_UNEXPECTED", `unknown event ${msg.event.slice(0, 64)}`);
        const data = validate(schema, msg.data, msg.event);
        this.opts.onEvent?.(msg.event as keyof EventsOf<R> & string, data as never);
        return;
      }
      case "block": {
        const p = this.pending.get(msg.req);
        if (!p?.onBlock) return; // a block for a cancelled call: drop it
        this.arm(msg.req, p);
        p.onBlock({ id: msg.id, data: msg.data, error: msg.error });
        return;
      }
      default:
        if (!this.opts.onFrame?.(msg)) {
          throw new CairnError("PROTOCOL_UNEXPECTED", `unexpected ${msg.type} frame on the ${this.opts.channel.name} channel`);
        }
    }
  }

  private serve(id: number, method: string, rawParams: unknown): void {
    const spec = Object.hasOwn(this.opts.local.methods, method) ? this.opts.local.methods[method] : undefined;
    const handler = (this.handlers as Record<string, ((p: unknown, c: CallContext) => unknown) | undefined>)[method];
    const reply = (m: object) => {
      if (this.closedWith) return;
      try {
        this.opts.send(encodeFrame(this.opts.channel.id, m));
      } catch (e) {
        this.opts.onHandlerError?.(method, e);
      }
    };
    if (!spec || !handler) {
      reply({ type: "err", id, error: { code: "UNSUPPORTED", message: `method ${method.slice(0, 64)} is not served here` } });
      return;
    }
    let params: unknown;
    try {
      params = validate(spec.params, rawParams, `${method} params`);
    } catch (err) {
      reply({ type: "err", id, error: toCairnError(err, "PROTOCOL_MALFORMED").toWire() });
      return;
    }
    const ctx: CallContext = {
      reqId: id,
      signal: this.abort.signal,
      sendBlock: (bid, data, error = null) => reply({ type: "block", req: id, id: bid, data, error }),
      drain: this.opts.drain ?? (() => Promise.resolve()),
    };
    Promise.resolve()
      .then(() => handler(params, ctx))
      .then(
        (result) => reply({ type: "res", id, result: result ?? {} }),
        (err: unknown) => {
          if (!isCairnError(err)) this.opts.onHandlerError?.(method, err);
          const ce = isCairnError(err) ? err : new CairnError("INTERNAL", "internal error");
          reply({ type: "err", id, error: ce.toWire() });
        },
      );
  }
}

/** Creates the peer for side `local` ("a" or "b") of a channel. */
export function createPeer<C extends ChannelSpec, S extends "a" | "b">(
  channel: C,
  side: S,
  opts: Omit<RpcPeerOptions<C[S], C[S extends "a" ? "b" : "a"]>, "channel" | "local" | "remote">,
): RpcPeer<C[S], C[S extends "a" ? "b" : "a"]> {
  const local = channel[side] as C[S];
  const remote = (side === "a" ? channel.b : channel.a) as C[S extends "a" ? "b" : "a"];
  return new RpcPeer({ ...opts, channel, local, remote });
}
