/**
 * The cold-storage purge schedule: one node-cron task per running authority, registered at
 * start with the configured expression, that calls {@link ColdStorageService.purgeDue} with the
 * authority's clock. Tests find the task by name (`getTasks()`), read its pattern and call
 * `purgeDue` with an injected time; nothing ever sleeps for it.
 */
import type { Clock } from "@cairn/protocol";
import { CairnError } from "@cairn/protocol";
import { type ScheduledTask, schedule, validate } from "node-cron";
import type { Logger } from "pino";

/** Every day at 03:00 (server time). */
export const DEFAULT_PURGE_SCHEDULE = "0 3 * * *";

/** The task name of an authority's purge schedule. */
export function purgeTaskName(authorityGuid: string): string {
  return `cairn-cold-storage-purge-${authorityGuid}`;
}

/** Options of {@link scheduleTask}. */
export interface ScheduleOptions {
  name: string;
  expression: string;
  clock: Clock;
  log: Logger;
  /** The work: called with the clock's time. */
  run(now: number): Promise<unknown>;
}

/** Registers a node-cron task that runs `run(clock.now())`; CONFIG_INVALID for a bad expression. */
export function scheduleTask(o: ScheduleOptions): ScheduledTask {
  if (!validate(o.expression)) throw new CairnError("CONFIG_INVALID", `not a cron expression: ${o.expression}`);
  return schedule(
    o.expression,
    async () => {
      try {
        await o.run(o.clock.now());
      } catch (err) {
        o.log.error({ err, task: o.name }, "scheduled task failed");
      }
    },
    { name: o.name, noOverlap: true, unref: true },
  );
}
