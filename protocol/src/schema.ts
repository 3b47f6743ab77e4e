/**
 * A small runtime schema language for wire messages: each schema both validates an untrusted
 * value and gives its TypeScript type (`Infer<typeof S>`). Validation never throws anything but
 * CairnError("PROTOCOL_MALFORMED"), bounds every string, byte string and array, and rejects
 * unknown object keys (strict) unless the object schema says otherwise.
 *
 * Why our own and not a library: the protocol package stays dependency-light and pure, the
 * checks are exactly what the wire needs (byte strings, bounded sizes), and it is fast enough to
 * run on every frame (no per-call allocation beyond the error path).
 */
import { CairnError } from "./errors.js";
import { MAX_ARRAY_ITEMS, MAX_MESSAGE_DEPTH, MAX_STRING_CHARS } from "./limits.js";

/** A schema: validates `v` (at `path`, for error messages) and returns it typed. */
export interface Schema<T> {
  readonly kind: string;
  check(v: unknown, path: string, depth: number): T;
}

/** The static type a schema describes. */
export type Infer<S> = S extends Schema<infer T> ? T : never;

function fail(path: string, what: string): never {
  throw new CairnError("PROTOCOL_MALFORMED", `${path || "message"}: ${what}`, { details: { path } });
}

function mk<T>(kind: string, check: (v: unknown, path: string, depth: number) => T): Schema<T> {
  return { kind, check };
}

/** A string of bounded length, optionally matching a pattern. */
export function str(opts: { min?: number; max?: number; pattern?: RegExp } = {}): Schema<string> {
  const min = opts.min ?? 0;
  const max = opts.max ?? MAX_STRING_CHARS;
  return mk("string", (v, p) => {
    if (typeof v !== "string") fail(p, "expected a string");
    if (v.length < min || v.length > max) fail(p, `string length must be ${min}..${max}`);
    if (opts.pattern && !opts.pattern.test(v)) fail(p, "string has the wrong form");
    return v;
  });
}

/** A string constrained to a branded id pattern. */
export function id<T extends string>(pattern: RegExp): Schema<T> {
  return mk("id", (v, p) => {
    if (typeof v !== "string" || !pattern.test(v)) fail(p, "invalid identifier");
    return v as T;
  });
}

/** An integer in [min, max] (default: non-negative safe integers). */
export function int(opts: { min?: number; max?: number } = {}): Schema<number> {
  const min = opts.min ?? 0;
  const max = opts.max ?? Number.MAX_SAFE_INTEGER;
  return mk("int", (v, p) => {
    if (typeof v !== "number" || !Number.isInteger(v)) fail(p, "expected an integer");
    if (v < min || v > max) fail(p, `integer must be ${min}..${max}`);
    return v;
  });
}

/** A finite number in [min, max]. */
export function num(opts: { min?: number; max?: number } = {}): Schema<number> {
  const min = opts.min ?? -Number.MAX_VALUE;
  const max = opts.max ?? Number.MAX_VALUE;
  return mk("number", (v, p) => {
    if (typeof v !== "number" || !Number.isFinite(v)) fail(p, "expected a finite number");
    if (v < min || v > max) fail(p, `number must be ${min}..${max}`);
    return v;
  });
}

/** A boolean. */
export function bool(): Schema<boolean> {
  return mk("boolean", (v, p) => {
    if (typeof v !== "boolean") fail(p, "expected a boolean");
    return v;
  });
}

/** A byte string (Uint8Array/Buffer) of bounded length, optionally a multiple of `multipleOf`. */
export function bin(opts: { min?: number; max?: number; len?: number; multipleOf?: number } = {}): Schema<Buffer> {
  const min = opts.len ?? opts.min ?? 0;
  const max = opts.len ?? opts.max ?? 1024 * 1024;
  return mk("bytes", (v, p) => {
    if (!(v instanceof Uint8Array)) fail(p, "expected bytes");
    if (v.length < min || v.length > max) fail(p, `byte length must be ${min}..${max}`);
    if (opts.multipleOf && v.length % opts.multipleOf !== 0) fail(p, `byte length must be a multiple of ${opts.multipleOf}`);
    return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  });
}

/** Exactly the value `value`. */
export function literal<const T extends string | number | boolean>(value: T): Schema<T> {
  return mk("literal", (v, p) => {
    if (v !== value) fail(p, `expected ${JSON.stringify(value)}`);
    return value;
  });
}

/** One of the given string values. */
export function oneOf<const T extends readonly string[]>(values: T): Schema<T[number]> {
  const set = new Set<string>(values);
  return mk("enum", (v, p) => {
    if (typeof v !== "string" || !set.has(v)) fail(p, `expected one of ${values.join(", ")}`);
    return v as T[number];
  });
}

/** `null` or a value of `s`. */
export function nullable<T>(s: Schema<T>): Schema<T | null> {
  return mk(`nullable ${s.kind}`, (v, p, d) => (v === null ? null : s.check(v, p, d)));
}

/** A bounded array of `s`. */
export function arr<T>(s: Schema<T>, opts: { min?: number; max?: number } = {}): Schema<T[]> {
  const min = opts.min ?? 0;
  const max = opts.max ?? MAX_ARRAY_ITEMS;
  return mk("array", (v, p, d) => {
    if (!Array.isArray(v)) fail(p, "expected an array");
    if (v.length < min || v.length > max) fail(p, `array length must be ${min}..${max}`);
    if (d >= MAX_MESSAGE_DEPTH) fail(p, "nested too deeply");
    const out = new Array<T>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = s.check(v[i], `${p}[${i}]`, d + 1);
    return out;
  });
}

/** Marks an object field as optional (it may be absent; `undefined` counts as absent). */
export interface OptionalSchema<T> extends Schema<T> {
  readonly optional: true;
}

/** An optional object field. */
export function opt<T>(s: Schema<T>): OptionalSchema<T> {
  return { kind: `optional ${s.kind}`, optional: true, check: s.check };
}

type Shape = Record<string, Schema<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends OptionalSchema<unknown> ? K : never }[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;
/** The static type of an object schema's shape. */
export type InferShape<S extends Shape> = { [K in RequiredKeys<S>]: Infer<S[K]> } & {
  [K in OptionalKeys<S>]?: Infer<S[K]>;
};
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** An object with exactly the given fields (unknown keys rejected unless `loose`). */
export function obj<S extends Shape>(shape: S, opts: { loose?: boolean } = {}): Schema<Simplify<InferShape<S>>> & { shape: S } {
  const keys = Object.keys(shape);
  const s = mk("object", (v, p, d) => {
    if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Uint8Array) fail(p, "expected an object");
    if (d >= MAX_MESSAGE_DEPTH) fail(p, "nested too deeply");
    const src = v as Record<string, unknown>;
    if (!opts.loose) {
      for (const k in src) if (!Object.hasOwn(shape, k)) fail(p, `unknown field ${JSON.stringify(k.slice(0, 64))}`);
    }
    const out: Record<string, unknown> = {};
    for (const k of keys) {
      const fs = shape[k] as Schema<unknown> & { optional?: true };
      const val = Object.hasOwn(src, k) ? src[k] : undefined;
      if (val === undefined) {
        if (fs.optional) continue;
        fail(p ? `${p}.${k}` : k, "missing");
      }
      out[k] = fs.check(val, p ? `${p}.${k}` : k, d + 1);
    }
    return out as Simplify<InferShape<S>>;
  });
  return Object.assign(s, { shape });
}

/** A map from bounded string keys to values of `s`. */
export function record<T>(s: Schema<T>, opts: { maxKeys?: number; keyMax?: number } = {}): Schema<Record<string, T>> {
  const maxKeys = opts.maxKeys ?? 1000;
  const keyMax = opts.keyMax ?? 256;
  return mk("record", (v, p, d) => {
    if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Uint8Array) fail(p, "expected an object");
    if (d >= MAX_MESSAGE_DEPTH) fail(p, "nested too deeply");
    const out: Record<string, T> = Object.create(null);
    let n = 0;
    for (const k in v as Record<string, unknown>) {
      if (++n > maxKeys) fail(p, `more than ${maxKeys} keys`);
      if (k.length > keyMax) fail(p, "key too long");
      out[k] = s.check((v as Record<string, unknown>)[k], `${p}.${k.slice(0, 64)}`, d + 1);
    }
    return out;
  });
}

/**
 * Any JSON-like value (strings, numbers, booleans, null, arrays, plain objects), bounded in
 * depth and size. For settings trees that the authority forwards unchanged.
 */
export function json(opts: { maxNodes?: number } = {}): Schema<unknown> {
  const maxNodes = opts.maxNodes ?? 100_000;
  return mk("json", (v, p, d) => {
    let nodes = 0;
    const walk = (x: unknown, depth: number): unknown => {
      if (++nodes > maxNodes) fail(p, "value too large");
      if (depth > MAX_MESSAGE_DEPTH * 2) fail(p, "nested too deeply");
      if (x === null || typeof x === "boolean") return x;
      if (typeof x === "number") {
        if (!Number.isFinite(x)) fail(p, "non-finite number");
        return x;
      }
      if (typeof x === "string") {
        if (x.length > 65536) fail(p, "string too long");
        return x;
      }
      if (Array.isArray(x)) return x.map((e) => walk(e, depth + 1));
      if (typeof x === "object" && !(x instanceof Uint8Array)) {
        const o: Record<string, unknown> = {};
        for (const k in x as Record<string, unknown>) {
          if (k === "__proto__" || k === "constructor" || k === "prototype") fail(p, "forbidden key");
          o[k] = walk((x as Record<string, unknown>)[k], depth + 1);
        }
        return o;
      }
      return fail(p, "not a JSON value");
    };
    return walk(v, d);
  });
}

/** Any value at all, unchecked: only for fields validated elsewhere. Avoid. */
export function unknownValue(): Schema<unknown> {
  return mk("unknown", (v) => v);
}

/**
 * A union of object schemas discriminated by a literal `type` field. Unknown types are rejected
 * with a message that names the type (bounded).
 */
export function tagged<const M extends Record<string, Schema<unknown>>>(field: string, members: M): Schema<{ [K in keyof M]: Infer<M[K]> }[keyof M]> {
  return mk("tagged", (v, p, d) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) fail(p, "expected an object");
    const t = (v as Record<string, unknown>)[field];
    if (typeof t !== "string" || !Object.hasOwn(members, t)) {
      fail(p, `unknown ${field} ${typeof t === "string" ? JSON.stringify(t.slice(0, 40)) : typeof t}`);
    }
    return (members[t] as Schema<unknown>).check(v, p, d) as { [K in keyof M]: Infer<M[K]> }[keyof M];
  });
}

/** Validates `v` against `s` at the top level. */
export function validate<T>(s: Schema<T>, v: unknown, path = ""): T {
  return s.check(v, path, 0);
}
