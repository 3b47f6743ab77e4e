/**
 * The maintenance schedule (node-cron): daily maintenance and weekly verification of every
 * archive of every namespace. Tests call `runMaintenance` directly instead of waiting for it.
 */
import { CairnError } from "@cairn/protocol";
import cron, { type ScheduledTask } from "node-cron";
import type { NodeContext } from "../context.js";
import { OWN_NS } from "../node-db.js";
import { runMaintenance } from "./maintenance.js";

/** Checks a cron expression; throws CONFIG_INVALID. */
export function checkCron(expr: string): void {
  if (!cron.validate(expr)) throw new CairnError("CONFIG_INVALID", `invalid cron expression: ${expr}`);
}

/** Runs maintenance over every namespace. */
export async function maintainAll(ctx: NodeContext, verify: boolean): Promise<void> {
  const namespaces = [OWN_NS, ...ctx.db.tenants().map((t) => t.id)];
  for (const ns of namespaces) await runMaintenance(ctx, ns, null, { verify });
}

/** Starts the scheduled tasks; returns a function that stops them. */
export function scheduleMaintenance(ctx: NodeContext): () => void {
  const tasks: ScheduledTask[] = [];
  const add = (expr: string | null, verify: boolean) => {
    if (!expr) return;
    checkCron(expr);
    tasks.push(
      cron.schedule(expr, () => {
        maintainAll(ctx, verify).catch((err: unknown) => ctx.logger.error({ err }, "scheduled maintenance failed"));
      }),
    );
  };
  add(ctx.opts.maintenanceSchedule, false);
  add(ctx.opts.verifySchedule, true);
  return () => {
    for (const t of tasks) void Promise.resolve(t.stop()).catch(() => {});
  };
}
