import type { DeviceConfig } from "@cairn/protocol";
import { describe, expect, it } from "vitest";
import { bandwidthFor, compressionFor, isLanUrl } from "../src/agent-api.js";

/** The settings fields these functions read; the rest of a device's settings does not matter here. */
const settings = (o: Partial<DeviceConfig["settings"]>) => ({ wanBytesPerSec: 1000, lanBytesPerSec: 5000, ...o }) as DeviceConfig["settings"];

describe("WAN and LAN settings of a storage node's URL", () => {
  it("takes private and loopback addresses for the LAN, anything else for the WAN", () => {
    for (const u of [
      "wss://127.0.0.1:4285/",
      "wss://10.1.2.3/",
      "wss://192.168.0.9/",
      "wss://172.16.0.1/",
      "wss://172.31.9.9/",
      "wss://[::1]:443/",
      "wss://localhost/",
    ])
      expect(isLanUrl(u), u).toBe(true);
    for (const u of [
      "wss://172.32.0.1/",
      "wss://8.8.8.8/",
      "wss://store.example.com/",
      "wss://10.example.com/",
      "wss://[2001:db8::1]/",
      "wss://localhost.example.com/",
    ])
      expect(isLanUrl(u), u).toBe(false);
  });

  it("limits bandwidth and compresses by the network the node is on", () => {
    const s = settings({ wanCompression: "off", lanCompression: "auto" });
    expect(bandwidthFor(s, "wss://store.example.com/")).toBe(1000);
    expect(bandwidthFor(s, "wss://10.0.0.5/")).toBe(5000);
    expect(compressionFor(s, "wss://store.example.com/")).toBe("never");
    expect(compressionFor(s, "wss://10.0.0.5/")).toBe("auto");
    expect(compressionFor(settings({ lanCompression: "off" }), "wss://10.0.0.5/")).toBe("never");
  });

  it("compresses when the authority sent no compression setting (an older authority, or none reached yet)", () => {
    expect(compressionFor(undefined, "wss://store.example.com/")).toBe("auto");
    expect(compressionFor(settings({}), "wss://127.0.0.1/")).toBe("auto");
    expect(bandwidthFor(undefined, "wss://127.0.0.1/")).toBe(0);
  });
});
