/**
 * The agent's end of the agent control channel (`wss://authority/v1/agent`): one link, pinned to
 * the authority's certificate fingerprint, with the device token as Bearer (none for `register`).
 * The authority calls back `restore-order`, `cancel-restore` and `ping`, and pushes
 * `config-changed`, `deauthorized` and `upgrade-available`.
 */
import { AGENT_CHANNEL, CairnError, type Handlers, MAX_CONTROL_FRAME_BYTES, type ParamsOf, type ResultOf } from "@cairn/protocol";
import { type Link, openLink, type ProxySetting } from "../net/ws-link.js";

type AuthorityMethods = (typeof AGENT_CHANNEL)["a"]["methods"];
type DeviceMethods = (typeof AGENT_CHANNEL)["b"]["methods"];

/** Events the authority pushes. */
export interface AuthorityEvents {
  onConfigChanged?: (configVersion: number) => void;
  onDeauthorized?: (reason: string) => void;
  onUpgradeAvailable?: (offer: { version: string; url: string; sha256: string; signature: string }) => void;
}

/** The agent channel URL for an authority given as `https://host:port` or `wss://…`. */
export function agentChannelUrl(authority: string): string {
  let u: URL;
  try {
    u = new URL(authority);
  } catch (cause) {
    throw new CairnError("USAGE", "the authority URL is not a URL", { cause });
  }
  // the device authenticates with its own credential: a user name or password in the URL is a
  // mistake, and one that would end up in messages and logs
  if (u.username !== "" || u.password !== "") throw new CairnError("USAGE", "the authority URL must not carry a user name or password");
  if (u.protocol === "https:") u.protocol = "wss:";
  if (u.protocol !== "wss:") throw new CairnError("USAGE", "the authority URL must be https:// (or wss://)");
  if (u.pathname === "/" || u.pathname === "") u.pathname = "/v1/agent";
  return u.toString();
}

/** A connected authority client. */
export class AuthorityClient {
  private constructor(private readonly link: Link<(typeof AGENT_CHANNEL)["b"], (typeof AGENT_CHANNEL)["a"]>) {}

  /** Connects (with `token` null only `register` is served). */
  static async connect(o: {
    url: string;
    fingerprint: string;
    token: string | null;
    proxy?: ProxySetting;
    handlers?: Handlers<DeviceMethods>;
    events?: AuthorityEvents;
    timeoutMs?: number;
  }): Promise<AuthorityClient> {
    const link = await openLink(
      { url: agentChannelUrl(o.url), fingerprint: o.fingerprint, token: o.token, proxy: o.proxy ?? null, timeoutMs: o.timeoutMs ?? 15_000 },
      {
        channel: AGENT_CHANNEL,
        maxFrameBytes: MAX_CONTROL_FRAME_BYTES,
        ...(o.handlers ? { handlers: o.handlers as never } : {}),
        onEvent: ((event: string, data: unknown) => {
          if (event === "config-changed") o.events?.onConfigChanged?.((data as { configVersion: number }).configVersion);
          if (event === "deauthorized") o.events?.onDeauthorized?.((data as { reason: string }).reason);
          if (event === "upgrade-available") o.events?.onUpgradeAvailable?.(data as { version: string; url: string; sha256: string; signature: string });
        }) as never,
      },
    );
    return new AuthorityClient(link);
  }

  /** Calls an authority method. */
  call<M extends keyof AuthorityMethods & string>(
    method: M,
    params: ParamsOf<AuthorityMethods, M>,
    timeoutMs = 30_000,
  ): Promise<ResultOf<AuthorityMethods, M>> {
    return this.link.peer.call(method, params as never, { timeoutMs }) as Promise<ResultOf<AuthorityMethods, M>>;
  }

  /** Resolves when the link closes. */
  get closed(): Promise<{ code: number; reason: string }> {
    return this.link.closed;
  }

  /** Closes the link. */
  close(): void {
    this.link.close(1000, "bye");
  }
}
