/**
 * SQL text for statements with a variable number of parameters. Only placeholders are ever put
 * into SQL text; values always travel as bound parameters (test/layering.test.ts checks it).
 */

/** `n` groups of `group` placeholders: `placeholders(2, 2)` is `(?, ?), (?, ?)`; `placeholders(3)` is `?, ?, ?`. */
export function placeholders(n: number, group = 1): string {
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(group) || group < 1) throw new RangeError("placeholders: n and group must be positive integers");
  const one = group === 1 ? "?" : `(${Array(group).fill("?").join(", ")})`;
  return Array(n).fill(one).join(", ");
}
