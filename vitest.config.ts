import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["{protocol,storenode,agent,authority,cli}/test/**/*.test.ts", "test/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 2,
    reporters: ["default"],
  },
});
