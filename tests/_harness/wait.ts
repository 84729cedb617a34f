/**
 * Bounded waiting for tests on real sockets and processes: every wait has a deadline and clears
 * its timer, so the ops sanitizer stays quiet.
 * @module
 */

/**
 * Races `promise` against a deadline.
 *
 * @param promise What to wait for.
 * @param timeoutMs How long to wait.
 * @param what Named in the error: `Timed out after 500 ms: what`.
 * @returns The promise's value.
 * @throws {Error} When the deadline passes first.
 */
export async function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${timeoutMs} ms: ${what}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves after `ms`; for pacing and polling only, never to wait for a result. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `condition` every `intervalMs` until it is true.
 *
 * @param condition Checked first at once, then after each interval.
 * @param timeoutMs How long to keep polling.
 * @param what Named in the error, with the value of `describe()` if given.
 * @throws {Error} `Timed out after 2000 ms: what (state)` when the condition stays false.
 */
export async function waitUntil(
  condition: () => boolean,
  timeoutMs: number,
  what: string,
  options: { intervalMs?: number; describe?: () => string } = {},
): Promise<void> {
  const interval = options.intervalMs ?? 2;
  const end = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() >= end) {
      const state = options.describe ? ` (${options.describe()})` : "";
      throw new Error(`Timed out after ${timeoutMs} ms: ${what}${state}`);
    }
    await delay(interval);
  }
}
