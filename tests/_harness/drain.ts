/**
 * Drains a sans-I/O core's queue of events into an array.
 * @module
 */

/** Every event `core.pollEvent()` has now, oldest first. */
export function drainEvents<E>(core: { pollEvent(): E | undefined }): E[] {
  const out: E[] = [];
  for (let e = core.pollEvent(); e !== undefined; e = core.pollEvent()) out.push(e);
  return out;
}
