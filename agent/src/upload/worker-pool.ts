/**
 * The chunk workers of one backup run (one per core, at most 4), started only when there is
 * content to read, so a no-change backup pays for none. Tasks go to the worker with the fewest
 * bytes outstanding; each worker has a bounded number of tasks queued.
 *
 * The worker module is loaded as compiled JavaScript next to this file
 * (`new URL("./chunk-worker.js", import.meta.url)`), so the package must be built (`tsc -b`).
 */
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { CairnError } from "@cairn/protocol";
import type { FileJob, FromWorker, ToWorker, WorkerInit } from "./worker-protocol.js";

/** The compiled worker next to this module, or in dist/ when this module runs from src/ (tests). */
function workerUrl(): URL {
  const here = new URL("./chunk-worker.js", import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  return new URL("../../dist/upload/chunk-worker.js", import.meta.url);
}

/** The parent's profiling flags (`--cpu-prof…`, `--heap-prof…`) only: workers ignore every other flag (a test runner's loaders). */
export function profilingArgv(): string[] {
  return process.execArgv.filter((a) => a.startsWith("--cpu-prof") || a.startsWith("--heap-prof"));
}

/** Handlers of worker output. */
export interface PoolHandlers {
  onMessage(worker: number, msg: FromWorker): void;
  onError(err: CairnError): void;
}

interface Slot {
  worker: Worker;
  outstandingBytes: number;
  tasks: Map<number, number>;
}

/** Small files are batched into tasks of about this many bytes. */
export const TASK_BYTES = 4 * 1024 * 1024;
/** …and at most this many files. */
export const TASK_FILES = 256;

/** A pool of chunk workers. */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private nextTask = 1;
  private closed = false;
  readonly size: number;

  constructor(
    private readonly init: WorkerInit,
    private readonly handlers: PoolHandlers,
    size?: number,
  ) {
    this.size = Math.max(1, Math.min(4, size ?? availableParallelism()));
  }

  private start(): void {
    const url = workerUrl();
    for (let i = 0; i < this.size; i++) {
      // A small young generation: the workers' live JS state is tiny, so a few-MiB nursery
      // costs nothing in scavenge time and keeps each isolate's resident memory small.
      const worker = new Worker(url, { workerData: this.init, execArgv: profilingArgv(), resourceLimits: { maxYoungGenerationSizeMb: 4 } });
      const slot: Slot = { worker, outstandingBytes: 0, tasks: new Map() };
      worker.on("message", (msg: FromWorker) => {
        if (msg.t === "taskdone") {
          slot.outstandingBytes -= slot.tasks.get(msg.task) ?? 0;
          slot.tasks.delete(msg.task);
        }
        this.handlers.onMessage(i, msg);
      });
      worker.on("error", (err) => this.handlers.onError(new CairnError("INTERNAL", `chunk worker failed: ${err.message}`, { cause: err })));
      worker.on("exit", (code) => {
        if (!this.closed && code !== 0) this.handlers.onError(new CairnError("INTERNAL", `chunk worker exited with code ${code}`));
      });
      this.slots.push(slot);
    }
  }

  /** Queues a task; returns its id and the worker it went to. */
  submit(files: FileJob[]): { task: number; worker: number } {
    if (this.slots.length === 0) this.start();
    let best = 0;
    for (let i = 1; i < this.slots.length; i++) if ((this.slots[i] as Slot).outstandingBytes < (this.slots[best] as Slot).outstandingBytes) best = i;
    const slot = this.slots[best] as Slot;
    const task = this.nextTask++;
    const bytes = files.reduce((a, f) => a + f.size, 0) + files.length * 4096;
    slot.outstandingBytes += bytes;
    slot.tasks.set(task, bytes);
    this.post(best, { t: "task", task, files });
    return { task, worker: best };
  }

  /** Bytes queued on the least busy worker. */
  get minOutstanding(): number {
    if (this.slots.length === 0) return 0;
    return Math.min(...this.slots.map((s) => s.outstandingBytes));
  }

  /** Tasks not yet done. */
  get outstandingTasks(): number {
    return this.slots.reduce((a, s) => a + s.tasks.size, 0);
  }

  /** Sends a message to one worker. */
  post(worker: number, msg: ToWorker, transfer?: ArrayBuffer[]): void {
    const slot = this.slots[worker];
    if (slot) slot.worker.postMessage(msg, transfer);
  }

  /** Changes the CPU share of every worker. */
  setCpu(percent: number): void {
    for (let i = 0; i < this.slots.length; i++) this.post(i, { t: "cpu", percent });
  }

  /** Stops every worker. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots.length = 0;
  }
}
