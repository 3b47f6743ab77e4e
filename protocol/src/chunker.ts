/**
 * Content-defined chunking: FastCDC (Xia et al. 2016/2020) with normalized chunking, level 2.
 *
 * A gear hash rolls over the data: `h = (h << 1) + GEAR[byte]` (32-bit). A cut is made where the
 * top bits of `h` are all zero: a harder mask (more bits) before the average size, an easier one
 * after it, so chunk sizes concentrate around the average. Nothing is hashed before the minimum
 * size (cut-point skipping), and a chunk never exceeds the maximum.
 *
 * The gear table is derived from the archive's `cdc` key, so chunk boundaries (and hence sizes)
 * reveal nothing comparable across archives (restic's per-repository polynomial, borg's keyed
 * buzhash table). Sizes are chosen by measurement (docs/design.md, "Chunking").
 *
 * The scan runs in WebAssembly (protocol/wasm/chunker-scan.wat, ~3.5× the JavaScript loop's
 * speed on this project's machine): the bytes after the minimum size are copied into the module's
 * memory, 256 KiB at a time, and scanned there. The JavaScript loop stays as the reference the
 * tests compare with (`engine: "js"`); both give the same cuts.
 */
import { hkdfSync } from "node:crypto";
import { CHUNKER_SCAN_WASM } from "./chunker-wasm.js";
import { CairnError } from "./errors.js";
import { CHUNK_AVG_BYTES, CHUNK_MAX_BYTES, CHUNK_MIN_BYTES } from "./limits.js";

/** Chunk size parameters. */
export interface ChunkerParams {
  min: number;
  avg: number;
  max: number;
}

/** The format's default parameters. */
export const DEFAULT_CHUNKER_PARAMS: ChunkerParams = { min: CHUNK_MIN_BYTES, avg: CHUNK_AVG_BYTES, max: CHUNK_MAX_BYTES };

/** Derives the 256-entry gear table from an archive's `cdc` key. */
export function gearTable(cdcKey: Buffer): Uint32Array {
  const bytes = Buffer.from(hkdfSync("sha256", cdcKey, Buffer.alloc(0), Buffer.from("cairn/v1/gear"), 1024));
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) t[i] = bytes.readUInt32BE(i * 4);
  return t;
}

function topMask(bits: number): number {
  return (((1 << bits) - 1) << (32 - bits)) >>> 0;
}

/** The part of the WebAssembly API used here (the project's type libraries do not declare it). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
};

/** Where the gear table and the scanned segment live in the scan module's memory. */
const WASM_GEAR_BYTES = 1024;
/** Bytes scanned per call: the module's memory holds the gear table and one such segment. */
const WASM_SEGMENT_BYTES = 256 * 1024;

/** The scan module of this thread, instantiated on first use (one per thread, shared by its chunkers). */
interface WasmScanner {
  scan(n: number, normal: number, maskS: number, maskL: number, h: number): number;
  /** The hash after a segment without a cut. */
  h: { value: number };
  bytes: Uint8Array;
  view: DataView;
  /** The gear table now in memory (the chunker that loaded it). */
  loaded: Int32Array | null;
}

let wasmScanner: WasmScanner | null = null;

function scanner(): WasmScanner {
  if (wasmScanner) return wasmScanner;
  const inst = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(CHUNKER_SCAN_WASM, "base64")));
  const memory = inst.exports.memory as { buffer: ArrayBuffer };
  if (memory.buffer.byteLength < WASM_GEAR_BYTES + WASM_SEGMENT_BYTES) throw new CairnError("INTERNAL", "chunker scan module's memory is too small");
  wasmScanner = {
    scan: inst.exports.scan as WasmScanner["scan"],
    h: inst.exports.h as { value: number },
    bytes: new Uint8Array(memory.buffer),
    view: new DataView(memory.buffer),
    loaded: null,
  };
  return wasmScanner;
}

/** Options of a {@link Chunker}. */
export interface ChunkerOptions {
  /** Scan with the WebAssembly module (default) or only with the JavaScript loop. */
  engine?: "wasm" | "js";
  /** Bytes per WebAssembly call, 1 to 256 KiB (default 256 KiB; tests use small ones to cross many segments). */
  segmentBytes?: number;
}

/**
 * A FastCDC cutter. Stateless between calls: give it a window that starts at a chunk boundary
 * and it tells where the chunk ends.
 */
export class Chunker {
  readonly params: ChunkerParams;
  private readonly gear: Int32Array;
  private readonly maskS: number;
  private readonly maskL: number;
  private readonly wasm: WasmScanner | null;
  private readonly segment: number;

  constructor(gear: Uint32Array, params: ChunkerParams = DEFAULT_CHUNKER_PARAMS, opts: ChunkerOptions = {}) {
    if (gear.length !== 256) throw new CairnError("BAD_REQUEST", "gear table must have 256 entries");
    const { min, avg, max } = params;
    if (!(min >= 64 && min < avg && avg < max && max <= 64 * 1024 * 1024)) {
      throw new CairnError("BAD_REQUEST", "chunker sizes must satisfy 64 <= min < avg < max <= 64 MiB");
    }
    const bits = Math.round(Math.log2(avg));
    if (2 ** bits !== avg) throw new CairnError("BAD_REQUEST", "average chunk size must be a power of two");
    this.params = params;
    this.gear = new Int32Array(gear.buffer.slice(gear.byteOffset, gear.byteOffset + 1024));
    this.maskS = topMask(Math.min(31, bits + 2)) | 0;
    this.maskL = topMask(Math.max(1, bits - 2)) | 0;
    this.wasm = opts.engine === "js" ? null : scanner();
    this.segment = opts.segmentBytes ?? WASM_SEGMENT_BYTES;
    if (!(Number.isInteger(this.segment) && this.segment >= 1 && this.segment <= WASM_SEGMENT_BYTES)) {
      throw new CairnError("BAD_REQUEST", "chunker scan segment must be 1 byte to 256 KiB");
    }
  }

  /**
   * Returns the length of the chunk that starts at `buf[start]`, looking at most at
   * `buf[start..end)`. Returns 0 when more data is needed to decide (fewer than `max` bytes are
   * available and `eof` is false).
   */
  cut(buf: Uint8Array, start = 0, end = buf.length, eof = true): number {
    const { min, avg, max } = this.params;
    let n = end - start;
    if (n <= 0) return 0;
    if (n < max && !eof) {
      // Without the full window a cut can still be found; but "no cut" needs the full window.
      const c = this.scan(buf, start, n, min, avg);
      return c === n ? 0 : c;
    }
    if (n <= min) return n;
    if (n > max) n = max;
    return this.scan(buf, start, n, min, avg);
  }

  private scan(buf: Uint8Array, start: number, n: number, min: number, avg: number): number {
    if (n <= min) return n;
    const w = this.wasm;
    if (w !== null) return min + this.scanWasm(w, buf, start + min, n - min, Math.min(n, avg) - min);
    const g = this.gear;
    const maskS = this.maskS;
    const maskL = this.maskL;
    let h = 0;
    let i = min;
    const normal = Math.min(n, avg);
    for (; i < normal; i++) {
      h = ((h << 1) + (g[buf[start + i] as number] as number)) | 0;
      if ((h & maskS) === 0) return i + 1;
    }
    for (; i < n; i++) {
      h = ((h << 1) + (g[buf[start + i] as number] as number)) | 0;
      if ((h & maskL) === 0) return i + 1;
    }
    return n;
  }

  /**
   * The same scan as the loop below, over `buf[from, from + n)` (the bytes after the minimum),
   * the first `normal` of them with the harder mask: segment by segment, the hash carried over.
   */
  private scanWasm(w: WasmScanner, buf: Uint8Array, from: number, n: number, normal: number): number {
    if (w.loaded !== this.gear) {
      for (let i = 0; i < 256; i++) w.view.setInt32(i * 4, this.gear[i] as number, true);
      w.loaded = this.gear;
    }
    let h = 0;
    const seg = this.segment;
    for (let at = 0; at < n; at += seg) {
      const len = Math.min(seg, n - at);
      w.bytes.set(buf.subarray(from + at, from + at + len), WASM_GEAR_BYTES);
      const cut = w.scan(len, Math.max(0, Math.min(len, normal - at)), this.maskS, this.maskL, h);
      if (cut !== 0) return at + cut;
      h = w.h.value;
    }
    return n;
  }

  /** Splits a whole buffer into chunk lengths (for tests, vectors and small inputs). */
  split(buf: Uint8Array): number[] {
    const out: number[] = [];
    let off = 0;
    while (off < buf.length) {
      const len = this.cut(buf, off, buf.length, true);
      out.push(len);
      off += len;
    }
    return out;
  }
}
