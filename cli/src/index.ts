/**
 * @packageDocumentation
 * `@cairn/cli`: the `cairn` command line (dispatcher, global flags, exit codes) and `cairn demo`.
 */
export { run, VERSION } from "./main.js";
