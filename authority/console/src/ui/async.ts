/** Loading state of one request, with cancellation of stale requests when inputs change. */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { errorMessage } from "../api/client.js";

/** Where a request stands. */
export type AsyncState<T> =
  | { status: "loading"; data: T | undefined; error: null }
  | { status: "ready"; data: T; error: null }
  | { status: "error"; data: T | undefined; error: string };

/** The state plus a way to run the request again (resolves once its answer is rendered). */
export type AsyncResult<T> = AsyncState<T> & { reload: () => Promise<void> };

/**
 * Runs `load` when `deps` change (aborting the previous run) and on `reload()`. The previous data
 * stays available while a new request runs, so tables keep their rows while paging.
 */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[]): AsyncResult<T> {
  const [state, setState] = useState<AsyncState<T>>({ status: "loading", data: undefined, error: null });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    const ctl = new AbortController();
    setState((s) => ({ status: "loading", data: s.data, error: null }));
    loadRef.current(ctl.signal).then(
      (data) => {
        if (!ctl.signal.aborted) setState({ status: "ready", data, error: null });
      },
      (e: unknown) => {
        if (!ctl.signal.aborted) setState((s) => ({ status: "error", data: s.data, error: errorMessage(e) }));
      },
    );
    return () => ctl.abort();
  }, [...deps, tick]);
  // Callers of reload() wait for the answer to be on screen (a form saved, then reloaded, takes
  // no edit before its fresh values replace the draft): settled after the render that shows it.
  const waiting = useRef<Array<() => void>>([]);
  useEffect(() => {
    if (state.status === "loading" || waiting.current.length === 0) return;
    const settle = waiting.current;
    waiting.current = [];
    for (const r of settle) r();
  }, [state]);
  const reload = useCallback(
    () =>
      new Promise<void>((resolve) => {
        waiting.current.push(resolve);
        setTick((t) => t + 1);
      }),
    [],
  );
  return { ...state, reload } as AsyncResult<T>;
}
