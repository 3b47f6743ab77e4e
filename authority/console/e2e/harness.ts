/**
 * Test harness of the console's browser tests (`test/console-*.e2e.test.ts`): a real authority
 * (`initAuthority` + `startAuthority`) on 127.0.0.1 port 0 in a temporary directory, the built
 * console it serves, one headless Debian chromium per test file (playwright-core, fresh
 * profile, self-signed certificate accepted), a REST client with a bearer token for setup and
 * checks, and screenshots into `docs/screenshots/` (or `CAIRN_SCREENSHOTS_DIR`).
 */
import { createHash, createHmac } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CORE_PLUGINS, initAuthority, type OperationsOptions, startAuthority } from "@cairn/authority";
import type { Clock } from "@cairn/protocol";
import { type APIRequestContext, type BrowserContext, chromium, type Page, request } from "playwright-core";
import { CONSOLE_PLUGIN } from "../../src/http/console-static.js";

const here = dirname(fileURLToPath(import.meta.url));
/** `authority/console`. */
export const CONSOLE_DIR = join(here, "..");
const DIST = join(CONSOLE_DIR, "dist");
/**
 * Where the tests save their screenshots: `docs/screenshots/` (the documentation's pictures are
 * refreshed by every run), or `CAIRN_SCREENSHOTS_DIR` when set (to keep a working tree clean).
 */
export const SCREENSHOT_DIR = process.env.CAIRN_SCREENSHOTS_DIR
  ? resolve(process.env.CAIRN_SCREENSHOTS_DIR)
  : join(CONSOLE_DIR, "..", "..", "docs", "screenshots");

/** Chromium flags for a quiet, offline, sandbox-less headless run (CI runs as root). */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Cheap password hashing for tests (argon2id's cost is the authority's concern, not the console's). */
const TEST_ARGON2 = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

/** The administrator every test environment starts with. */
export const ADMIN = { username: "admin@example.com", password: "correct-horse-battery" };

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Builds the console when `dist/` is missing or older than its sources (the root build normally
 * does it with `npm run build:console -w @cairn/authority`). A lock directory keeps two test
 * files from building at once.
 */
export async function ensureConsoleBuilt(): Promise<void> {
  const index = join(DIST, "index.html");
  const fresh = () =>
    existsSync(index) && statSync(index).mtimeMs >= Math.max(newestMtime(join(CONSOLE_DIR, "src")), statSync(join(CONSOLE_DIR, "index.html")).mtimeMs);
  if (fresh()) return;
  const lock = join(tmpdir(), `cairn-console-build-${createHash("sha256").update(CONSOLE_DIR).digest("hex").slice(0, 12)}.lock`);
  for (let i = 0; ; i++) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (i > 600) rmSync(lock, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 100));
      if (fresh()) return;
    }
  }
  try {
    if (fresh()) return;
    const { build } = await import("vite");
    await build({ root: CONSOLE_DIR, configFile: join(CONSOLE_DIR, "vite.config.ts"), logLevel: "warn" });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** A REST client for test setup and checks (bearer JWT of the administrator). */
export interface Api {
  get<T = unknown>(path: string, query?: Record<string, string | number | boolean>): Promise<T>;
  post<T = unknown>(path: string, body?: unknown): Promise<T>;
  put<T = unknown>(path: string, body?: unknown): Promise<T>;
  del<T = unknown>(path: string, body?: unknown): Promise<T>;
  /** The raw response (status checks). */
  raw(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }>;
}

async function apiClient(url: string, username: string, password: string): Promise<{ api: Api; ctx: APIRequestContext }> {
  const ctx = await request.newContext({ baseURL: url, ignoreHTTPSErrors: true });
  const basic = Buffer.from(`${username}:${password}`).toString("base64");
  const jwt = await ctx.get("/c42api/v3/auth/jwt?useBody=True", { headers: { Authorization: `Basic ${basic}` } });
  if (!jwt.ok()) throw new Error(`JWT for ${username}: ${jwt.status()} ${await jwt.text()}`);
  const token = ((await jwt.json()) as { data: { v3_user_token: string } }).data.v3_user_token;
  const headers = { Authorization: `Bearer ${token}`, Accept: "application/json" };
  const raw = async (method: string, path: string, body?: unknown) => {
    const r = await ctx.fetch(path, { method, headers, ...(body === undefined ? {} : { data: body }) });
    return { status: r.status(), text: await r.text() };
  };
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const r = await raw(method, path, body);
    if (r.status < 200 || r.status > 299) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
    if (!r.text) return undefined as T;
    const parsed = JSON.parse(r.text) as unknown;
    return (parsed && typeof parsed === "object" && !Array.isArray(parsed) && "data" in parsed ? (parsed as { data: T }).data : parsed) as T;
  };
  const qs = (q?: Record<string, string | number | boolean>) =>
    q ? `?${new URLSearchParams(Object.entries(q).map(([k, v]): [string, string] => [k, String(v)])).toString()}` : "";
  return {
    ctx,
    api: {
      get: (p, q) => call("GET", p + qs(q)),
      post: (p, b) => call("POST", p, b),
      put: (p, b) => call("PUT", p, b),
      del: (p, b) => call("DELETE", p, b),
      raw,
    },
  };
}

/** What a test gets. */
export interface ConsoleEnv {
  dataDir: string;
  /** `https://127.0.0.1:PORT` */
  url: string;
  fingerprint: string;
  registrationKey: string;
  topOrgUid: string;
  context: BrowserContext;
  page: Page;
  api: Api;
  /** Opens the console at `hash` (`#/orgs`). */
  goto(hash?: string): Promise<void>;
  /** Signs in through the sign-in screen (as the administrator unless told otherwise). */
  signIn(username?: string, password?: string): Promise<void>;
  /** Saves a screenshot of the page as `<SCREENSHOT_DIR>/<name>.png`. */
  shot(name: string): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link startConsoleEnv}. */
export interface ConsoleEnvOptions {
  /** Runs after `initAuthority` and before `startAuthority` (bulk seeding of the data directory). */
  beforeStart?: (dataDir: string) => Promise<void> | void;
  /** The authority's clock (a ManualClock lets a test step through TOTP windows). */
  clock?: Clock;
  /** Options of the operations plugin (SMTP for the backup report, restore folders…). */
  operations?: OperationsOptions;
}

/** Starts an authority and a browser. Call `close()` in `afterAll`. */
export async function startConsoleEnv(opts: ConsoleEnvOptions = {}): Promise<ConsoleEnv> {
  await ensureConsoleBuilt();
  const root = mkdtempSync(join(tmpdir(), "cairn-console-"));
  const dataDir = join(root, "authority");
  const clock = opts.clock ? { clock: opts.clock } : {};
  const init = await initAuthority({
    dataDir,
    adminUsername: ADMIN.username,
    adminPassword: ADMIN.password,
    orgName: "Acme Corp",
    argon2: TEST_ARGON2,
    ...clock,
  });
  await opts.beforeStart?.(dataDir);
  // The console's static files: the authority's own plugin once it is part of the core.
  // (It is imported from the sources, so its types are the sources' twins of the package's.)
  type Plugins = NonNullable<Parameters<typeof startAuthority>[0]["plugins"]>;
  const plugins = (CORE_PLUGINS.some((p) => p.name === CONSOLE_PLUGIN.name) ? [] : [CONSOLE_PLUGIN]) as unknown as Plugins;
  const operations = opts.operations ? { operations: opts.operations } : {};
  const authority = await startAuthority({ dataDir, host: "127.0.0.1", port: 0, argon2: TEST_ARGON2, plugins, ...clock, ...operations });
  const url = `https://127.0.0.1:${authority.port}`;
  const { api, ctx } = await apiClient(url, ADMIN.username, ADMIN.password);
  const context = await chromium.launchPersistentContext(join(root, "profile"), {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
    ignoreHTTPSErrors: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 800 },
    locale: "en-US",
    timezoneId: "UTC",
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(10_000);
  const env: ConsoleEnv = {
    dataDir,
    url,
    fingerprint: authority.fingerprint,
    registrationKey: init.registrationKey,
    topOrgUid: init.orgUid,
    context,
    page,
    api,
    goto: async (hash = "") => {
      await page.goto(`${url}/console/${hash}`);
    },
    signIn: async (username = ADMIN.username, password = ADMIN.password) => {
      await page.goto(`${url}/console/`);
      await page.getByLabel("Username").fill(username);
      await page.getByLabel("Password").fill(password);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByTestId("signed-in-as").waitFor();
    },
    shot: async (name) => {
      mkdirSync(SCREENSHOT_DIR, { recursive: true });
      // Toasts of earlier steps would cover the screen. The console's Content-Security-Policy
      // refuses the style sheet that the screenshot's `style` option injects, so they are hidden
      // through the element's style (CSSOM, which the policy allows) and shown again after.
      const toasts = (visibility: string) =>
        page.locator(".toasts").evaluateAll((els: { style: { visibility: string } }[], v: string) => {
          for (const e of els) e.style.visibility = v;
        }, visibility);
      await toasts("hidden");
      try {
        await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true, animations: "disabled", caret: "hide" });
      } finally {
        await toasts("");
      }
    },
    close: async () => {
      await context.close().catch(() => {});
      await ctx.dispose().catch(() => {});
      await authority.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
  return env;
}

/** Reads a download (CSV, zip) that `trigger` starts. */
export async function downloadOf(page: Page, trigger: () => Promise<void>): Promise<{ name: string; path: string }> {
  const [d] = await Promise.all([page.waitForEvent("download"), trigger()]);
  const path = await d.path();
  return { name: d.suggestedFilename(), path };
}

function base32(s: string): Buffer {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of s.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const out: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) out.push(Number.parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(out);
}

/** The RFC 6238 code (SHA-1, 6 digits, 30 s) of a base32 secret at `ms`, as an authenticator shows it. */
export function totpCode(secret: string, ms: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(ms / 30_000)));
  const h = createHmac("sha1", base32(secret)).update(counter).digest();
  const off = (h[h.length - 1] as number) & 0xf;
  return String((h.readUInt32BE(off) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}
