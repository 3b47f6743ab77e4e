import { describe, expect, it } from "vitest";
import { type ConfigKey, envNameFor, parseBytes, parseDuration, renderDefaultConfig, resolveConfig } from "../src/config.js";
import { isCairnError } from "../src/errors.js";

const spec: ConfigKey[] = [
  { key: "server.port", type: "int", default: 4285, doc: "HTTPS port", flag: "port", min: 0, max: 65535 },
  { key: "server.host", type: "string", default: "0.0.0.0", doc: "address to bind", flag: "host" },
  { key: "data", type: "string", doc: "data directory", flag: "data", required: true },
  { key: "log.level", type: "string", default: "info", doc: "log level", choices: ["debug", "info", "warn"] },
  { key: "smtp.password", type: "string", doc: "SMTP password", secret: true },
  { key: "reserve", type: "bytes", default: 1024 ** 3, doc: "free-space reserve" },
  { key: "interval", type: "duration", default: 900_000, doc: "how often" },
  { key: "tls", type: "bool", default: true, doc: "TLS on" },
];

describe("configuration", () => {
  it("applies flags > environment > file > defaults", () => {
    const file = { server: { port: 1, host: "10.0.0.1" }, data: "/from/file", log: { level: "warn" } };
    const r = resolveConfig(spec, { file, env: { CAIRN_SERVER_HOST: "10.0.0.2", CAIRN_LOG_LEVEL: "debug" }, flags: { port: "8443" } });
    expect(r.values).toMatchObject({ "server.port": 8443, "server.host": "10.0.0.2", data: "/from/file", "log.level": "debug", reserve: 1024 ** 3, tls: true });
    expect(r.sources).toMatchObject({ "server.port": "flag", "server.host": "env", data: "file", reserve: "default" });
  });

  it("reads secrets from *_FILE variables", () => {
    const r = resolveConfig(spec, {
      flags: { data: "/d" },
      env: { CAIRN_SMTP_PASSWORD_FILE: "/run/secrets/smtp" },
      readFile: (p) => (p === "/run/secrets/smtp" ? "hunter2\n" : ""),
    });
    expect(r.values["smtp.password"]).toBe("hunter2");
  });

  it("reports every problem at once with CONFIG_INVALID (exit 78)", () => {
    try {
      resolveConfig(spec, { file: { server: { port: "x", bogus: 1 }, log: { level: "loud" }, reserve: "lots" }, fileName: "/etc/cairn/authority.toml" });
      expect.unreachable();
    } catch (e) {
      expect(isCairnError(e, "CONFIG_INVALID")).toBe(true);
      const msg = (e as Error).message;
      for (const s of [
        'unknown key "server.bogus"',
        "server.port: expected an integer",
        "log.level: expected one of",
        "reserve: expected a size",
        "data is required",
      ])
        expect(msg).toContain(s);
      expect((e as { spec: { exit: number } }).spec.exit).toBe(78);
    }
  });

  it("parses sizes and durations", () => {
    expect(parseBytes("10GiB")).toBe(10 * 1024 ** 3);
    expect(parseBytes("512 MB")).toBe(512 * 1024 ** 2);
    expect(parseBytes("lots")).toBeNull();
    expect(parseDuration("15m")).toBe(900_000);
    expect(parseDuration("30")).toBe(30_000);
    expect(parseDuration("1d")).toBe(86_400_000);
    expect(envNameFor("server.maxConnections")).toBe("CAIRN_SERVER_MAX_CONNECTIONS");
  });

  it("renders a commented default file that resolves back to the defaults", async () => {
    const { parse } = await import("smol-toml");
    const text = renderDefaultConfig(spec, "test daemon");
    expect(text).toContain("# HTTPS port");
    expect(text).toContain("[server]");
    expect(text).not.toContain("hunter2");
    const r = resolveConfig(spec, { file: parse(text), flags: { data: "/d" } });
    expect(r.values["server.port"]).toBe(4285);
    expect(r.values.interval).toBe(900_000);
    expect(r.values.reserve).toBe(1024 ** 3);
  });
});
