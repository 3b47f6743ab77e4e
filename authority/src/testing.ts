/**
 * Test helpers for any package's tests (exported as `@cairn/authority/testing`; `src/` never
 * imports this): a real authority on 127.0.0.1 port 0 in a temporary folder, an HTTPS client
 * that trusts its certificate, and a client that behaves like py42 (API.md: every failing request
 * sent twice, a 401 re-fetches the JWT first, a falsy `data` reads as the whole envelope, paging
 * stops at the first short page).
 */
import { Agent, request } from "node:https";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Clock } from "@cairn/protocol";
import type { Logger } from "pino";
import type { LoginThrottleOptions } from "./auth/login-throttle.js";
import { TEST_ARGON2 } from "./auth/passwords.js";
import type { Faults } from "./faults.js";
import type { HttpPlugin } from "./http/server.js";
import { initAuthority, type RunningAuthority, startAuthority } from "./index.js";
import type { OperationsOptions } from "./operations-plugins.js";

/** One HTTP answer. */
export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: unknown;
}

/** Options of one request. */
export interface RequestOptions {
  body?: unknown;
  /** A body sent verbatim (with the given content type). */
  rawBody?: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
  bearer?: string;
  basic?: [string, string];
}

/** An HTTPS client that trusts one certificate. */
export class HttpsClient {
  private readonly agent: Agent;

  constructor(
    readonly baseUrl: string,
    ca: string,
  ) {
    this.agent = new Agent({ ca, keepAlive: true, maxSockets: 8 });
  }

  /** Sends one request. */
  request(method: string, path: string, o: RequestOptions = {}): Promise<HttpAnswer> {
    const url = new URL(path, this.baseUrl);
    const headers: Record<string, string> = { accept: "application/json", ...(o.headers ?? {}) };
    let payload: string | Buffer | undefined;
    if (o.rawBody !== undefined) {
      payload = o.rawBody;
      if (o.contentType !== undefined) headers["content-type"] = o.contentType;
    } else if (o.body !== undefined) {
      payload = JSON.stringify(o.body);
      headers["content-type"] = "application/json";
    }
    // always a Content-Length: Node sends DELETE bodies unframed otherwise
    if (payload !== undefined) headers["content-length"] = String(Buffer.byteLength(payload));
    if (o.bearer !== undefined) headers.authorization = `Bearer ${o.bearer}`;
    if (o.basic !== undefined) headers.authorization = `Basic ${Buffer.from(`${o.basic[0]}:${o.basic[1]}`).toString("base64")}`;
    return new Promise((resolve, reject) => {
      const req = request(url, { method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = text === "" ? undefined : JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on("error", reject);
      });
      req.on("error", reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** Closes kept-alive sockets. */
  close(): void {
    this.agent.destroy();
  }
}

/** Python's truthiness of a JSON value. */
function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") return Object.keys(v as object).length > 0;
  return true;
}

/** What py42 would make of a body: `data` when it is truthy, else the whole document. */
export function py42Unwrap(json: unknown): unknown {
  if (typeof json === "object" && json !== null && !Array.isArray(json)) {
    const d = (json as Record<string, unknown>).data;
    return truthy(d) ? d : json;
  }
  return json;
}

/** A log of what a {@link Py42Client} sent, for assertions on py42's quirks. */
export interface Py42Exchange {
  method: string;
  path: string;
  status: number;
}

/** Behaves like py42 v1.19's connection and auth handler against an authority. */
export class Py42Client {
  private jwt: string | undefined;
  readonly log: Py42Exchange[] = [];

  constructor(
    readonly http: HttpsClient,
    readonly username: string,
    readonly password: string,
    readonly totp: string | null = null,
  ) {}

  private async fetchJwt(): Promise<string> {
    const headers: Record<string, string> = {};
    if (this.totp !== null) headers["totp-auth"] = String(this.totp);
    for (let attempt = 0; attempt < 2; attempt++) {
      const r = await this.http.request("GET", "/c42api/v3/auth/jwt?useBody=True", { basic: [this.username, this.password], headers });
      this.log.push({ method: "GET", path: "/c42api/v3/auth/jwt", status: r.status });
      if (r.status >= 200 && r.status < 400) {
        const token = (py42Unwrap(r.json) as { v3_user_token?: string }).v3_user_token;
        if (typeof token === "string") return token;
      }
      if (attempt === 1) throw Object.assign(new Error(`py42 could not get a JWT: ${r.status} ${r.text}`), { answer: r });
    }
    throw new Error("unreachable");
  }

  /** One call the way py42 makes it; returns the last answer (after the repeat, if any). */
  async call(method: string, path: string, body?: unknown): Promise<HttpAnswer> {
    let r: HttpAnswer | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      this.jwt ??= await this.fetchJwt();
      r = await this.http.request(method, path, { bearer: this.jwt, ...(body !== undefined ? { body } : {}) });
      this.log.push({ method, path, status: r.status });
      if (r.status >= 200 && r.status < 400) return r;
      if (r.status === 401) this.jwt = undefined;
    }
    return r as HttpAnswer;
  }

  /** A call whose payload is read the way py42 reads it; throws on a final failure. */
  async data(method: string, path: string, body?: unknown): Promise<unknown> {
    const r = await this.call(method, path, body);
    if (r.status < 200 || r.status >= 400) throw Object.assign(new Error(`${method} ${path}: ${r.status} ${r.text}`), { answer: r });
    return r.text === "" ? undefined : py42Unwrap(r.json);
  }

  /** py42's get_all_pages: pages 1, 2, … until a page has fewer than pgSize items. */
  async allPages(path: string, key: string, pgSize = 500): Promise<{ pages: number; items: unknown[] }> {
    const items: unknown[] = [];
    for (let pg = 1; ; pg++) {
      const sep = path.includes("?") ? "&" : "?";
      const d = (await this.data("GET", `${path}${sep}pgNum=${pg}&pgSize=${pgSize}`)) as Record<string, unknown>;
      const list = d[key] as unknown[];
      items.push(...list);
      if (list.length < pgSize) return { pages: pg, items };
    }
  }

  /** Drops the JWT (as after expiry on the server). */
  forgetToken(): void {
    this.jwt = undefined;
  }

  /** Uses this JWT from now on (tests that replay an old one). */
  useToken(token: string): void {
    this.jwt = token;
  }

  /** The JWT in use. */
  get token(): string | undefined {
    return this.jwt;
  }
}

/** Options of {@link startTestAuthority}. */
export interface TestAuthorityOptions {
  clock?: Clock;
  logger?: Logger;
  plugins?: readonly HttpPlugin[];
  faults?: Faults;
  loginThrottle?: LoginThrottleOptions;
  maxDbPages?: number;
  adminUsername?: string;
  /** Use this data directory (it is not removed). */
  dataDir?: string;
  /** Initialize (default true; false to restart over an existing directory). */
  init?: boolean;
  /** Schedules, SMTP and templates of the operations plugin. */
  operations?: OperationsOptions;
}

/** A running test authority. */
export interface TestAuthority extends RunningAuthority {
  dataDir: string;
  adminUsername: string;
  adminPassword: string;
  orgUid: string;
  registrationKey: string;
  client: HttpsClient;
  /** A py42-like client signed in as `username`. */
  py42(username?: string, password?: string, totp?: string | null): Py42Client;
  /** Closes the server and removes the data directory (unless it was given). */
  dispose(): Promise<void>;
}

/** The administrator password of test authorities. */
export const TEST_ADMIN_PASSWORD = "test admin password";

/** Initializes and starts an authority on 127.0.0.1 port 0 with cheap password hashing. */
export async function startTestAuthority(o: TestAuthorityOptions = {}): Promise<TestAuthority> {
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), "cairn-authority-"));
  const adminUsername = o.adminUsername ?? "admin@example.com";
  const init =
    o.init === false
      ? { orgUid: "", registrationKey: "" }
      : await initAuthority({
          dataDir,
          adminUsername,
          adminPassword: TEST_ADMIN_PASSWORD,
          orgName: "Top Org",
          argon2: TEST_ARGON2,
          ...(o.clock ? { clock: o.clock } : {}),
        });
  const running = await startAuthority({
    dataDir,
    host: "127.0.0.1",
    port: 0,
    argon2: TEST_ARGON2,
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.logger ? { logger: o.logger } : {}),
    ...(o.plugins ? { plugins: o.plugins } : {}),
    ...(o.faults ? { faults: o.faults } : {}),
    ...(o.loginThrottle ? { loginThrottle: o.loginThrottle } : {}),
    ...(o.maxDbPages !== undefined ? { maxDbPages: o.maxDbPages } : {}),
    ...(o.operations ? { operations: o.operations } : {}),
  });
  const client = new HttpsClient(running.url, running.certPem);
  return {
    ...running,
    dataDir,
    adminUsername,
    adminPassword: TEST_ADMIN_PASSWORD,
    orgUid: init.orgUid,
    registrationKey: init.registrationKey,
    client,
    py42: (username = adminUsername, password = TEST_ADMIN_PASSWORD, totp = null) => new Py42Client(client, username, password, totp),
    async dispose() {
      client.close();
      await running.close();
      if (o.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
