/** Loading state of one request, with cancellation of stale requests when inputs change. */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { errorMessage } from "../api/client.js";

/** Where a request stands. */
export type AsyncState<T> =
  | { status: "loading"; data: T | undefined; error: null }
  | { status: "ready"; data: T; error: null }
  | { status: "error"; data: T | undefined; error: string };

/** The state plus a way to run the request again. */
export type AsyncResult<T> = AsyncState<T> & { reload: () => void };

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
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload } as AsyncResult<T>;
}
