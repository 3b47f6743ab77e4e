/**
 * Young-generation garbage collection on demand, for the threads that move large buffers.
 *
 * V8 frees an ArrayBuffer's memory only when the object holding it is collected, and it counts
 * that memory (allocated with malloc, outside its heap) as "external": a collection is forced
 * only after some 64 MiB of it have accumulated. A chunk worker allocates a cipher output for
 * every 64 KiB it seals, a restore worker receives every block in a buffer of its own, and the
 * main thread of a restore reads every byte in 16 KiB TLS buffers: each kind dies young but, at
 * the allocation rate of a backup or restore, sat in glibc's arenas by the tens of MiB until V8
 * got round to it, and those arena pages stay resident once touched (peak RSS).
 *
 * {@link ExternalGarbage.add} counts bytes that became garbage; past a threshold it runs a
 * scavenge (a minor GC: a few tens of µs with the workers' 4 MiB young generation, well under
 * 1 ms on the main thread), which frees them at once so malloc reuses the same memory.
 *
 * The collector is reached through `--expose-gc` set at run time and a `gc` function taken from
 * a fresh context (flags are process-wide; the function acts on the calling thread's isolate).
 * Where that is refused (an embedder that forbids it), nothing is collected early: correctness
 * never depends on it.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

type GcFn = (opts?: { type?: "minor" | "major"; execution?: "sync" | "async" }) => void;

let gcFn: GcFn | null | undefined;

function collector(): GcFn | null {
  if (gcFn !== undefined) return gcFn;
  try {
    const g = (globalThis as { gc?: unknown }).gc;
    if (typeof g === "function") gcFn = g as GcFn;
    else {
      setFlagsFromString("--expose-gc");
      const f = runInNewContext("gc") as unknown;
      gcFn = typeof f === "function" ? (f as GcFn) : null;
    }
  } catch {
    gcFn = null;
  }
  return gcFn;
}

/** Runs a scavenge of the calling thread's young generation (no-op when unavailable). */
export function minorGc(): void {
  collector()?.({ type: "minor" });
}

/** Counts bytes of short-lived buffers and scavenges every `threshold` of them. */
export class ExternalGarbage {
  private bytes = 0;

  constructor(private readonly threshold: number) {
    collector();
  }

  /** `n` more bytes of buffers that are (or are about to be) unreachable. */
  add(n: number): void {
    this.bytes += n;
    if (this.bytes >= this.threshold) {
      this.bytes = 0;
      minorGc();
    }
  }
}
