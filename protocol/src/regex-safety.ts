/**
 * Exclusion patterns are regular expressions an administrator writes once for thousands of
 * devices, and JavaScript's engine backtracks: `(a+)+$` against a long name of `a`s runs for
 * ever on every device's main thread (RELIABILITY.md §6.8, bounded everything). This refuses
 * the shape behind almost every such blow-up, a repeated group that itself repeats (star height
 * above one: `(a+)+`, `(a*)*`, `(\w+\s?)*`, `(?:x|y+){2,}`; a small fixed count such as
 * `([0-9]+\.){3}` passes), and runaway counted repeats, as safe-regex does. Pure; a conservative
 * test of the source text, not a regex engine: overlapping alternatives (`(a|a)+`) and chains of
 * wildcards (`.*.*.*x`) are not caught.
 */

/** Counted repeats above this are refused (`a{1,100000}` compiles to a huge state space). */
export const MAX_REPEAT = 1000;

/**
 * A repeating group may itself be repeated a fixed, small number of times (`([0-9]+\.){3}`, a
 * version number): the work grows with the power of that count, so only small counts pass.
 */
export const MAX_GROUP_REPEAT = 5;

/**
 * Why `source` could backtrack without bound, or null when its shape is safe. `source` is
 * assumed to compile (check with `new RegExp` first).
 */
export function regexHazard(source: string): string | null {
  // one entry per open group: whether something inside it repeats without bound
  const groups: boolean[] = [false];
  let i = 0;
  /** The quantifier at `at` (length, unbounded?, its upper bound), or null. */
  const quantifier = (at: number): { len: number; unbounded: boolean; min: number; max: number } | null => {
    const c = source[at];
    if (c === "*" || c === "+") return { len: source[at + 1] === "?" ? 2 : 1, unbounded: true, min: c === "+" ? 1 : 0, max: Number.POSITIVE_INFINITY };
    if (c === "?") return { len: source[at + 1] === "?" ? 2 : 1, unbounded: false, min: 0, max: 1 };
    if (c === "{") {
      const m = /^\{(\d+)(,(\d*))?\}\??/.exec(source.slice(at));
      if (!m) return null;
      const min = Number(m[1]);
      const max = m[2] === undefined ? min : m[3] === "" ? Number.POSITIVE_INFINITY : Number(m[3]);
      return { len: m[0].length, unbounded: max > 1 && !Number.isFinite(max), min, max };
    }
    return null;
  };
  const mark = () => {
    groups[groups.length - 1] = true;
  };
  while (i < source.length) {
    const c = source[i];
    let atomEnd = i + 1;
    let groupRepeats = false;
    if (c === "\\") atomEnd = i + 2;
    else if (c === "[") {
      let j = i + 1;
      if (source[j] === "^") j++;
      if (source[j] === "]") j++;
      while (j < source.length && source[j] !== "]") j += source[j] === "\\" ? 2 : 1;
      atomEnd = j + 1;
    } else if (c === "(") {
      groups.push(false);
      i++;
      continue;
    } else if (c === ")") {
      groupRepeats = groups.pop() ?? false;
      if (groups.length === 0) groups.push(false);
    }
    const q = quantifier(atomEnd);
    if (q) {
      if (q.min > MAX_REPEAT || (q.max > MAX_REPEAT && Number.isFinite(q.max))) return `a repeat of more than ${MAX_REPEAT}`;
      if (c === ")" && groupRepeats && (q.unbounded || q.max > MAX_GROUP_REPEAT)) return "a repeated group that itself repeats (nested quantifiers)";
      if (q.unbounded) mark();
      i = atomEnd + q.len;
    } else {
      i = atomEnd;
    }
    if (c === ")" && groupRepeats) mark();
  }
  return null;
}
