/**
 * Daemon configuration: one declarative list of keys per daemon, resolved with the precedence
 * flags > `CAIRN_*` environment > configuration file > defaults, validated with a clear message
 * (CONFIG_INVALID, exit code 78), and rendered as a commented default file
 * (`--print-default-config`). Pure: the caller parses the TOML file and reads `*_FILE` secrets
 * through the injected `readFile`.
 */
import { CairnError } from "./errors.js";

/** Value types a configuration key may have. */
export type ConfigType = "string" | "int" | "bool" | "strings" | "bytes" | "duration";

/** One configuration key. */
export interface ConfigKey {
  /** Dotted path in the TOML file, e.g. `server.port`. */
  key: string;
  type: ConfigType;
  /** Default value (already in the resolved type); `undefined` means "unset". */
  default?: unknown;
  /** One or more lines for the generated file and docs. */
  doc: string;
  /** Environment variable; defaults to `CAIRN_` + the key in upper snake case. */
  env?: string;
  /** The camelCase flag name commander produces for the key's command-line flag, if any. */
  flag?: string;
  /** A secret: may come from `<ENV>_FILE`; never printed. */
  secret?: boolean;
  min?: number;
  max?: number;
  choices?: readonly string[];
  /** Required after resolution. */
  required?: boolean;
}

/** Where each resolved value came from (for `--check-config` and logs). */
export type ConfigSource = "flag" | "env" | "file" | "default";

/** The result of {@link resolveConfig}. */
export interface ResolvedConfig {
  values: Record<string, unknown>;
  sources: Record<string, ConfigSource>;
}

/** Inputs of {@link resolveConfig}. */
export interface ConfigInputs {
  /** Parsed command-line options (commander's `opts()`), by camelCase flag name. */
  flags?: Readonly<Record<string, unknown>>;
  env?: Readonly<Record<string, string | undefined>>;
  /** The parsed TOML document, if a file was given or found. */
  file?: unknown;
  /** Name of the file, for messages. */
  fileName?: string;
  /** Reads a `*_FILE` secret. */
  readFile?: (path: string) => string;
}

/** `server.port` → `CAIRN_SERVER_PORT`. */
export function envNameFor(key: string): string {
  return `CAIRN_${key
    .replace(/[.-]/g, "_")
    .replace(/([a-z])([A-Z])/g, "$1_$2")
    .toUpperCase()}`;
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};
const TIME_UNITS: Record<string, number> = { ms: 1, s: 1000, "": 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `10GiB`, `512 MB`, `1024` into bytes. */
export function parseBytes(v: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
  if (!m) return null;
  const unit = SIZE_UNITS[(m[2] ?? "").toLowerCase()];
  return unit === undefined ? null : Math.round(Number(m[1]) * unit);
}

/** Parses `15m`, `30s`, `2h`, `1d`, `500ms` (a bare number is seconds) into milliseconds. */
export function parseDuration(v: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/.exec(v);
  if (!m) return null;
  const unit = TIME_UNITS[m[2] ?? ""];
  return unit === undefined ? null : Math.round(Number(m[1]) * unit);
}

function coerce(k: ConfigKey, raw: unknown, fromText: boolean): { ok: true; value: unknown } | { ok: false; why: string } {
  const bad = (why: string) => ({ ok: false as const, why });
  switch (k.type) {
    case "string": {
      if (typeof raw !== "string") return bad("expected a string");
      if (k.choices && !k.choices.includes(raw)) return bad(`expected one of ${k.choices.join(", ")}`);
      return { ok: true, value: raw };
    }
    case "int": {
      const n = typeof raw === "number" ? raw : fromText && typeof raw === "string" && /^-?\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
      if (!Number.isSafeInteger(n)) return bad("expected an integer");
      if (k.min !== undefined && n < k.min) return bad(`must be at least ${k.min}`);
      if (k.max !== undefined && n > k.max) return bad(`must be at most ${k.max}`);
      return { ok: true, value: n };
    }
    case "bool": {
      if (typeof raw === "boolean") return { ok: true, value: raw };
      if (fromText && typeof raw === "string") {
        const s = raw.trim().toLowerCase();
        if (["1", "true", "yes", "on"].includes(s)) return { ok: true, value: true };
        if (["0", "false", "no", "off"].includes(s)) return { ok: true, value: false };
      }
      return bad("expected true or false");
    }
    case "strings": {
      if (Array.isArray(raw) && raw.every((x) => typeof x === "string")) return { ok: true, value: raw };
      if (typeof raw === "string")
        return {
          ok: true,
          value: fromText
            ? raw
                .split(",")
                .map((s) => s.trim())
                .filter(Boolean)
            : [raw],
        };
      return bad("expected a list of strings");
    }
    case "bytes":
    case "duration": {
      const parse = k.type === "bytes" ? parseBytes : parseDuration;
      const n = typeof raw === "number" ? (k.type === "duration" && !fromText ? raw * 1000 : raw) : typeof raw === "string" ? parse(raw) : null;
      if (n === null || !Number.isFinite(n) || n < 0) return bad(k.type === "bytes" ? "expected a size such as 512MiB" : "expected a duration such as 15m");
      if (k.min !== undefined && n < k.min) return bad(`must be at least ${k.min}`);
      if (k.max !== undefined && n > k.max) return bad(`must be at most ${k.max}`);
      return { ok: true, value: n };
    }
  }
}

function lookup(doc: unknown, key: string): unknown {
  let cur: unknown = doc;
  for (const part of key.split(".")) {
    if (typeof cur !== "object" || cur === null || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function fileKeys(doc: unknown, prefix = ""): string[] {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return prefix ? [prefix] : [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(doc)) {
    const p = prefix ? `${prefix}.${k}` : k;
    if (typeof v === "object" && v !== null && !Array.isArray(v)) out.push(...fileKeys(v, p));
    else out.push(p);
  }
  return out;
}

/**
 * Resolves every key of `spec`. Throws CONFIG_INVALID listing every problem (unknown file keys,
 * wrong types, missing required values) in one message.
 */
export function resolveConfig(spec: readonly ConfigKey[], inputs: ConfigInputs): ResolvedConfig {
  const values: Record<string, unknown> = {};
  const sources: Record<string, ConfigSource> = {};
  const problems: string[] = [];
  const where = inputs.fileName ?? "configuration file";
  const known = new Set(spec.map((k) => k.key));
  if (inputs.file !== undefined) {
    for (const k of fileKeys(inputs.file)) if (!known.has(k)) problems.push(`${where}: unknown key "${k}"`);
  }
  const env = inputs.env ?? {};
  for (const k of spec) {
    const envName = k.env ?? envNameFor(k.key);
    const flag = k.flag ? inputs.flags?.[k.flag] : undefined;
    let raw: unknown;
    let src: ConfigSource = "default";
    let fromText = false;
    if (flag !== undefined) {
      raw = flag;
      src = "flag";
      fromText = typeof flag === "string";
    } else if (env[envName] !== undefined) {
      raw = env[envName];
      src = "env";
      fromText = true;
    } else if (k.secret && env[`${envName}_FILE`] !== undefined) {
      const path = env[`${envName}_FILE`] as string;
      try {
        raw = (inputs.readFile ?? (() => ""))(path).replace(/\r?\n$/, "");
        src = "env";
        fromText = true;
      } catch {
        problems.push(`${envName}_FILE: cannot read ${path}`);
        continue;
      }
    } else if (inputs.file !== undefined && lookup(inputs.file, k.key) !== undefined) {
      raw = lookup(inputs.file, k.key);
      src = "file";
    } else {
      if (k.default !== undefined) values[k.key] = k.default;
      else if (k.required) problems.push(`${k.key} is required (flag, ${envName}, or "${k.key}" in ${where})`);
      sources[k.key] = "default";
      continue;
    }
    const r = coerce(k, raw, fromText);
    if (!r.ok) {
      const origin = src === "flag" ? `flag for ${k.key}` : src === "env" ? envName : `${where}: ${k.key}`;
      problems.push(`${origin}: ${r.why}`);
      continue;
    }
    values[k.key] = r.value;
    sources[k.key] = src;
  }
  if (problems.length > 0) {
    throw new CairnError("CONFIG_INVALID", `invalid configuration:\n  ${problems.join("\n  ")}`, { details: { problems } });
  }
  return { values, sources };
}

function tomlValue(k: ConfigKey, v: unknown): string {
  if (k.type === "duration" && typeof v === "number") return JSON.stringify(formatDuration(v));
  if (k.type === "bytes" && typeof v === "number") return JSON.stringify(formatBytes(v));
  return JSON.stringify(v);
}

/** 900000 → "15m". */
export function formatDuration(ms: number): string {
  for (const [u, n] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const)
    if (ms % n === 0 && ms >= n) return `${ms / n}${u}`;
  return `${ms}ms`;
}

/** 1073741824 → "1GiB". */
export function formatBytes(b: number): string {
  for (const [u, n] of [
    ["TiB", 1024 ** 4],
    ["GiB", 1024 ** 3],
    ["MiB", 1024 ** 2],
    ["KiB", 1024],
  ] as const)
    if (b % n === 0 && b >= n) return `${b / n}${u}`;
  return String(b);
}

/** Renders a commented TOML file with every key at its default (secrets commented out). */
export function renderDefaultConfig(spec: readonly ConfigKey[], title: string): string {
  const lines = [`# ${title}`, "# Precedence: command-line flags > CAIRN_* environment variables > this file > defaults.", ""];
  // Top-level keys first: in TOML, keys after a [table] header belong to that table.
  const groups = new Map<string, ConfigKey[]>([["", []]]);
  for (const k of spec) {
    const dot = k.key.lastIndexOf(".");
    const g = dot === -1 ? "" : k.key.slice(0, dot);
    groups.set(g, [...(groups.get(g) ?? []), k]);
  }
  for (const [g, keys] of groups) {
    if (g) lines.push(`[${g}]`);
    for (const k of keys) {
      for (const d of k.doc.split("\n")) lines.push(`# ${d}`);
      const env = k.env ?? envNameFor(k.key);
      lines.push(`# env: ${env}${k.secret ? ` (or ${env}_FILE)` : ""}${k.choices ? `; one of ${k.choices.join(", ")}` : ""}`);
      const name = k.key.slice(g ? g.length + 1 : 0);
      if (k.default === undefined || k.secret)
        lines.push(`# ${name} = ${k.type === "strings" ? "[]" : k.type === "int" ? "0" : k.type === "bool" ? "false" : '""'}`);
      else lines.push(`${name} = ${tomlValue(k, k.default)}`);
      lines.push("");
    }
  }
  return `${lines.join("\n").trimEnd()}\n`;
}

/** A Markdown table of the keys, for docs/operations.md. */
export function renderConfigDocs(spec: readonly ConfigKey[]): string {
  const rows = spec.map(
    (k) =>
      `| \`${k.key}\` | \`${k.env ?? envNameFor(k.key)}\`${k.secret ? " (`_FILE`)" : ""} | ${k.type} | ${k.default === undefined ? "" : `\`${tomlValue(k, k.default)}\``} | ${k.doc.replace(/\n/g, " ")} |`,
  );
  return ["| key | environment | type | default | meaning |", "| --- | --- | --- | --- | --- |", ...rows].join("\n");
}
