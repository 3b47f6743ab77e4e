/**
 * The link to the node's own authority: dials `wss://A/v1/storenode` with the node secret,
 * pinning the authority's certificate, and keeps it up (reconnect with jittered exponential
 * backoff, 1 s to 60 s; announce again on every connect). While the authority is away the node
 * keeps serving agents whose tokens are valid (DECISIONS.md).
 */
import type { NodeContext } from "../context.js";
import type { OwnAuthority } from "../init.js";
import { OWN_NS } from "../node-db.js";
import { ControlLink } from "./link.js";
import { connectPinned } from "./pinned-ws.js";

const MIN_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 60_000;

/** Keeps the own authority's link up until stopped. */
export class AuthorityDialler {
  private stopped = false;
  private link: ControlLink | null = null;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  /** Connects made (tests and logs). */
  connects = 0;

  constructor(
    private readonly ctx: NodeContext,
    private readonly own: OwnAuthority,
    private readonly secret: string,
  ) {}

  /** Starts dialling in the background. */
  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let backoff = MIN_BACKOFF_MS;
    const log = this.ctx.logger.child({ conn: "authority" });
    while (!this.stopped) {
      try {
        const ws = await connectPinned(`${this.own.url}/v1/storenode`, { fingerprint: this.own.fingerprint, bearer: this.secret });
        if (this.stopped) {
          ws.close(1001, "node shutting down");
          break;
        }
        this.connects++;
        const link = new ControlLink(ws, OWN_NS, this.ctx, "authority");
        this.link = link;
        await link.activate();
        log.info({ url: this.own.url }, "connected to the authority");
        backoff = MIN_BACKOFF_MS;
        await link.done;
        this.link = null;
      } catch (err) {
        this.link?.close(1011, "link failed");
        this.link = null;
        log.warn({ err, retryInMs: backoff }, "authority link failed");
      }
      if (this.stopped) break;
      // Full jitter: spread reconnects of many nodes after an authority restart.
      await this.sleep(Math.floor(backoff / 2 + Math.random() * (backoff / 2)));
      backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      t.unref();
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  /** Whether the link is up. */
  get connected(): boolean {
    return this.link !== null;
  }

  /** Stops dialling and closes the link with 1001. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    this.link?.close(1001, "node shutting down");
    await this.loop;
  }
}
