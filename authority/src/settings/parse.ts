/**
 * Value parsers for settings: each validates a written value and returns it normalized, or
 * throws BAD_REQUEST naming the key. Numbers may arrive as numbers or numeric strings (py42
 * writes both), booleans as booleans or "true"/"false".
 */
import { CairnError } from "@cairn/protocol";

/** Parses one value for `key`; throws BAD_REQUEST. */
export type Parser<T> = (v: unknown, key: string) => T;

/** Throws BAD_REQUEST for `key`. */
export function invalid(key: string, what: string): never {
  throw new CairnError("BAD_REQUEST", `${key}: ${what}`, { details: { field: key } });
}

/** An integer in [min, max]. */
export function intIn(min: number, max = Number.MAX_SAFE_INTEGER): Parser<number> {
  return (v, key) => {
    const n = typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v.trim()) : v;
    if (typeof n !== "number" || !Number.isSafeInteger(n)) invalid(key, "expected an integer");
    if (n < min || n > max) invalid(key, `must be between ${min} and ${max}`);
    return n;
  };
}

/** A boolean (true/false or "true"/"false", any case). */
export const boolean: Parser<boolean> = (v, key) => {
  if (typeof v === "boolean") return v;
  if (typeof v === "string" && /^(true|false)$/i.test(v.trim())) return v.trim().toLowerCase() === "true";
  return invalid(key, "expected true or false");
};

/** A string of bounded length matching `pattern`. */
export function text(opts: { min?: number; max?: number; pattern?: RegExp } = {}): Parser<string> {
  return (v, key) => {
    if (typeof v !== "string") invalid(key, "expected a string");
    if (v.length < (opts.min ?? 0) || v.length > (opts.max ?? 4096)) invalid(key, `length must be ${opts.min ?? 0} to ${opts.max ?? 4096}`);
    if (opts.pattern && !opts.pattern.test(v)) invalid(key, "has the wrong form");
    return v;
  };
}

/** One of `choices`. */
export function oneOf<T extends string>(choices: readonly T[]): Parser<T> {
  return (v, key) => {
    if (typeof v !== "string" || !(choices as readonly string[]).includes(v)) invalid(key, `must be one of ${choices.join(", ")}`);
    return v as T;
  };
}

/** A list (a bare item counts as a list of one) of at most `max` items. */
export function listOf<T>(item: Parser<T>, max = 1000): Parser<T[]> {
  return (v, key) => {
    const arr = Array.isArray(v) ? v : v === null || v === undefined ? [] : [v];
    if (arr.length > max) invalid(key, `at most ${max} items`);
    return arr.map((x, i) => item(x, `${key}[${i}]`));
  };
}

const EMAIL = /^[^\s@/\\]{1,64}@[^\s@/\\]{1,255}$/;

/** An email address (the loose shape: local@domain, no spaces). */
export const email: Parser<string> = (v, key) => {
  const s = text({ max: 320 })(v, key).trim();
  if (!EMAIL.test(s)) invalid(key, "is not an email address");
  return s;
};

/** True when `s` looks like an email address. */
export function isEmail(s: string): boolean {
  return EMAIL.test(s);
}

/**
 * An HTTP CONNECT proxy as `http://host:port` (or https://), or null for none. No user name or
 * password: settings are readable by every administrator of the org, so a credential in them
 * would leak.
 */
export const proxyUrl: Parser<string | null> = (v, key) => {
  if (v === null || v === undefined || v === "") return null;
  if (typeof v !== "string" || v.length > 500) invalid(key, "a proxy URL such as http://proxy.example.com:3128, or null");
  let u: URL;
  try {
    u = new URL(v.trim());
  } catch {
    return invalid(key, "a proxy URL such as http://proxy.example.com:3128, or null");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") invalid(key, "an http:// or https:// proxy URL");
  if (u.username !== "" || u.password !== "") invalid(key, "a proxy URL without a user name or password");
  if ((u.pathname !== "/" && u.pathname !== "") || u.search !== "" || u.hash !== "") invalid(key, "a proxy URL with a host and port only");
  return `${u.protocol}//${u.host}`;
};
