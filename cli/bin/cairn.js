#!/usr/bin/env node
// The `cairn` command. The compiled dispatcher lives in ../dist (built by `npm ci` → prepare).
import { run } from "../dist/main.js";

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`cairn: ${err?.stack ?? err}\n`);
    process.exitCode = 1;
  },
);
