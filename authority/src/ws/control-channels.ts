/**
 * The control channels on the authority's listener: `wss://A/v1/agent` and `wss://A/v1/storenode`,
 * the pushes that follow changes (device-events.ts to agents, storage/placement-sync.ts to
 * nodes), and the links this authority dials to
 * provider nodes. Everything stops when the server closes.
 */
import type { AuthorityContext } from "../context.js";
import { wireDeviceEvents } from "../devices/device-events.js";
import type { ApiRouter } from "../http/api-router.js";
import { registerAgentChannel } from "./agent-channel.js";
import { registerNodeChannel } from "./node-channel.js";

/** Registers both channels and starts the provider links. */
export async function registerControlChannels(api: ApiRouter, ctx: AuthorityContext): Promise<void> {
  registerNodeChannel(api, ctx);
  registerAgentChannel(api, ctx);
  const unwire = wireDeviceEvents(ctx, ctx.agents, ctx.nodes);
  ctx.placementSync.start();
  api.app.addHook("onClose", async () => {
    unwire();
    await ctx.placementSync.stop();
    await ctx.providers.stop();
    ctx.agents.closeAll();
    ctx.nodes.closeAll();
  });
  await ctx.providers.startAll();
}
