/**
 * Which MANIFEST_REQUESTs a crowded owner answers, sans-I/O. A hundred downloaders starting at
 * once ask one seed for the manifest together; their requests time out after three round trips
 * while the replies still wait in the seed's queue, and each downloader asked 4–5 times (4.5 MB of
 * MANIFEST_DATA for 0.8 MB of manifests at N = 100 in the simulator, most of it dropped at the
 * seed's own queue: docs/TRANSFER.md, _Swarm figures_, fifth pass). So while more than
 * {@link MANIFEST_CROWD} requesters asked for manifests within {@link MANIFEST_CROWD_WINDOW_MS}, a
 * request for a slice this owner answered the same requester (address and port) within
 * {@link MANIFEST_REPEAT_MS} gets no answer: the answer is most likely still on its way, and the
 * requester asks again after its backoff. Only answers actually sent count (a request the rate
 * limiter refused leaves nothing on its way). And in a crowd an owner sends manifests to at most
 * {@link MANIFEST_CROWD_SERVED} requesters a second: the others are told busy and get theirs from
 * the downloaders that have it (a manifest of a 64 MiB file in 64 KiB pieces is 32 KiB; a hundred
 * of them took 0.7 s of a 40 Mbit/s seed's link while nobody else could upload anything). Below
 * the crowd every request is answered as before, so a lone download on a lossy path still re-asks
 * a lost slice after three round trips.
 * @module
 */
import { DEFAULT_OFFER_CROWD, DEFAULT_UPLOAD_SLOTS } from "./upload_slots.ts";

/**
 * Distinct requesters of manifests within {@link MANIFEST_CROWD_WINDOW_MS} beyond which repeats
 * are held back: more than an owner's upload slots (8 regular and the optimistic one), so a lone
 * download, or a few, still re-ask a lost slice after three round trips. (With 36, the crowd the
 * seed's offers use, a 32-downloader swarm never counted as a crowd: its manifests were sent 4-5
 * times each into the seed's queue at the start, and it took 1.30× the Kumar-Ross bound on
 * average over simulator seeds 1-4 against 1.27× with 9; docs/TRANSFER.md, "the seed's second
 * copies and the tail".)
 */
export const MANIFEST_CROWD = DEFAULT_UPLOAD_SLOTS + 1;
/** The window the crowd of manifest requesters is counted over, ms. */
export const MANIFEST_CROWD_WINDOW_MS = 1000;
/** In a crowd, a slice is answered to the same requester at most once this often, ms. */
export const MANIFEST_REPEAT_MS = 100;
/**
 * In a crowd, at most this many requesters are sent manifests within
 * {@link MANIFEST_CROWD_WINDOW_MS}; the others are told busy ({@link ManifestRepeats.defer}) and
 * fetch their manifest from the downloaders that got theirs (a partial owner serves its manifest
 * as soon as its part opens), whose uploads are idle at the start anyway. As many as the seed's
 * offers count as a crowd (4 per upload slot, 36), not the repeats' crowd (9): at N = 100 in the
 * simulator, 36 a second took 16.07 s (1.20× the bound) and 9 a second 16.39 s (1.22×), the
 * downloaders' first pieces waiting on manifests from each other (docs/TRANSFER.md, seventh pass).
 */
export const MANIFEST_CROWD_SERVED = DEFAULT_OFFER_CROWD * (DEFAULT_UPLOAD_SLOTS + 1);
/** Requesters remembered at most (the oldest are forgotten first). */
const MAX_REMEMBERED = 4096;

/**
 * See the module doc.
 *
 * @example In a crowd, a repeat within 100 ms is not answered
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManifestRepeats } from "./manifest_repeats.ts";
 *
 * const repeats = new ManifestRepeats();
 * for (let i = 0; i < 37; i++) {
 *   assert.ok(repeats.answer(`10.0.2.${i}|7000`, "f", 0, 0));
 *   repeats.answered(`10.0.2.${i}|7000`, "f", 0, 0);
 * }
 * assert.equal(repeats.answer("10.0.2.0|7000", "f", 0, 20), false);
 * assert.ok(repeats.answer("10.0.2.0|7000", "f", 0, 120));
 * ```
 */
export class ManifestRepeats {
  /** Requester → when it last asked for a manifest, oldest first. */
  readonly #askedAt = new Map<string, number>();
  /** Requester, content and offset → when that slice was last answered, oldest first. */
  readonly #answeredAt = new Map<string, number>();
  /** Requester → when it was last sent a slice, oldest first. */
  readonly #servedAt = new Map<string, number>();

  /** Requesters that asked for a manifest within the crowd window (as of the latest call). */
  get crowd(): number {
    return this.#askedAt.size;
  }

  /**
   * Tells whether to answer a manifest request (and counts its requester in the crowd). It does
   * not remember an answer: call {@link answered} once the slice is actually sent, so a request
   * the rate limiter refuses does not hold the requester's retry back.
   *
   * @param requester the requester's `host|port`
   * @param content which manifest (any string naming the content)
   * @param offset the slice's offset
   * @param now current time, ms
   * @returns false for a repeat to hold back (no answer)
   */
  answer(requester: string, content: string, offset: number, now: number): boolean {
    forget(this.#askedAt, now - MANIFEST_CROWD_WINDOW_MS);
    forget(this.#answeredAt, now - MANIFEST_REPEAT_MS);
    remember(this.#askedAt, requester, now);
    return !(this.#askedAt.size > MANIFEST_CROWD &&
      this.#answeredAt.has(key(requester, content, offset)));
  }

  /**
   * Remembers that a slice was sent to a requester (after {@link answer} said yes and the
   * answer passed the rate limits).
   *
   * @param requester the requester's `host|port`
   * @param content which manifest
   * @param offset the slice's offset
   * @param now current time, ms
   */
  answered(requester: string, content: string, offset: number, now: number): void {
    remember(this.#answeredAt, key(requester, content, offset), now);
    remember(this.#servedAt, requester, now);
  }

  /**
   * Tells whether to answer a requester busy instead (after {@link answer} said yes): in a crowd,
   * one this owner sent nothing within {@link MANIFEST_CROWD_WINDOW_MS} while it sent manifests to
   * {@link MANIFEST_CROWD_SERVED} others. A requester already being served is served to the end.
   *
   * @param requester the requester's `host|port`
   * @param now current time, ms
   * @returns true to answer ERROR busy (the requester asks another owner, or again later)
   */
  defer(requester: string, now: number): boolean {
    forget(this.#servedAt, now - MANIFEST_CROWD_WINDOW_MS);
    return this.#askedAt.size > MANIFEST_CROWD && !this.#servedAt.has(requester) &&
      this.#servedAt.size >= MANIFEST_CROWD_SERVED;
  }
}

/** The key of one slice sent to one requester. */
function key(requester: string, content: string, offset: number): string {
  return `${requester}|${content}|${offset}`;
}

/** Drops the entries of a time-ordered map older than `before`. */
function forget(map: Map<string, number>, before: number): void {
  for (const [k, at] of map) {
    if (at > before) return;
    map.delete(k);
  }
}

/** Sets `key` to `now` as the newest entry, forgetting the oldest beyond the bound. */
function remember(map: Map<string, number>, key: string, now: number): void {
  map.delete(key);
  map.set(key, now);
  if (map.size > MAX_REMEMBERED) map.delete(map.keys().next().value!);
}
