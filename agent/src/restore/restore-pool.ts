/**
 * The restore workers of one restore (one per core, at most 4) and the read backpressure between
 * the socket and them: sealed bytes forwarded but not yet processed are counted, and the caller
 * pauses reading from the node while more than {@link MAX_FORWARDED_BYTES} wait.
 *
 * The worker module is loaded as compiled JavaScript next to this file (as the chunk workers are).
 */
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { CairnError } from "@cairn/protocol";
import { profilingArgv } from "../upload/worker-pool.js";
import type { FromRestoreWorker, RestoreFileResult, RestoreWorkerInit, ToRestoreWorker } from "./restore-protocol.js";

/** Sealed bytes waiting in the workers' queues above which reading from the socket pauses. */
export const MAX_FORWARDED_BYTES = 8 * 1024 * 1024;

function workerUrl(): URL {
  const here = new URL("./restore-worker.js", import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  return new URL("../../dist/restore/restore-worker.js", import.meta.url);
}

/** A pool of restore workers. */
export class RestorePool {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<number, (r: RestoreFileResult[]) => void>();
  private forwarded = 0;
  private paused = false;
  private failure: CairnError | null = null;
  private closed = false;
  readonly size: number;

  constructor(
    init: RestoreWorkerInit,
    private readonly onBackpressure: (paused: boolean) => void,
    size?: number,
  ) {
    this.size = Math.max(1, Math.min(4, size ?? availableParallelism()));
    for (let i = 0; i < this.size; i++) {
      const w = new Worker(workerUrl(), { workerData: init, execArgv: profilingArgv(), resourceLimits: { maxYoungGenerationSizeMb: 4 } });
      w.on("message", (m: FromRestoreWorker) => this.onMessage(m));
      w.on("error", (err) => this.fail(new CairnError("INTERNAL", `restore worker failed: ${err.message}`, { cause: err })));
      w.on("exit", (code) => {
        if (!this.closed && code !== 0) this.fail(new CairnError("INTERNAL", `restore worker exited with code ${code}`));
      });
      this.workers.push(w);
    }
  }

  private fail(err: CairnError): void {
    this.failure ??= err;
    // nothing will consume what is queued: let the socket (and so the running `get`) go on
    this.forwarded = 0;
    this.paused = false;
    this.onBackpressure(false);
    for (const [, resolve] of this.waiting) resolve([]);
    this.waiting.clear();
  }

  /** The error that broke a worker, if any. */
  get error(): CairnError | null {
    return this.failure;
  }

  private onMessage(m: FromRestoreWorker): void {
    if (m.t === "consumed") this.release(m.bytes);
    else if (m.t === "done") {
      this.release(m.consumed);
      const r = this.waiting.get(m.batch);
      this.waiting.delete(m.batch);
      r?.(m.results);
    } else if (m.t === "fatal") this.fail(new CairnError("INTERNAL", `restore worker: ${m.message}`));
  }

  private release(bytes: number): void {
    this.forwarded = Math.max(0, this.forwarded - bytes);
    if (this.paused && this.forwarded <= MAX_FORWARDED_BYTES / 2) {
      this.paused = false;
      this.onBackpressure(false);
    }
  }

  /** Sends a message to one worker; `bytes` of sealed data it carries count until processed. */
  post(worker: number, msg: ToRestoreWorker, transfer: ArrayBuffer[] = [], bytes = 0): void {
    if (this.failure) return;
    (this.workers[worker] as Worker).postMessage(msg, transfer);
    if (bytes > 0) {
      this.forwarded += bytes;
      if (!this.paused && this.forwarded > MAX_FORWARDED_BYTES) {
        this.paused = true;
        this.onBackpressure(true);
      }
    }
  }

  /** Ends a batch; resolves with its files' results once the worker has finished them. */
  end(worker: number, batch: number, msg: ToRestoreWorker): Promise<RestoreFileResult[]> {
    return new Promise((resolve) => {
      if (this.failure) return resolve([]);
      this.waiting.set(batch, resolve);
      this.post(worker, msg);
    });
  }

  /** Stops every worker. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}
