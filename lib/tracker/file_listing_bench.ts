/**
 * LIST benchmarks (`deno bench lib/tracker/file_listing_bench.ts`): what one LIST costs the
 * tracker with 100,000 (name, content) entries: a page from the cached snapshot, a new
 * substring or glob pattern (one scan of every name), an exact listing (live index), and the
 * snapshot's rebuild after a change (a sort of every name, at most once a second).
 */
import { MemoryStore } from "./store/memory_store.ts";
import { FileListing, type ListingPage, type ListQuery } from "./file_listing.ts";
import { SAFE_DATAGRAM } from "../wire/limits.ts";

const NAMES = 100_000;
const index = new MemoryStore({ random: () => 0.5 });
const from = (i: number) => ({ hostname: "127.0.0.1", port: 1000 + i });
let owner = 0;
for (let i = 0; i < NAMES; i++) {
  if (i % 1000 === 0) {
    owner = i;
    index.join(`p${i}`, from(i), 0, 1e9);
  }
  const id = new Uint8Array(32);
  new DataView(id.buffer).setUint32(0, i * 2654435761);
  new DataView(id.buffer).setUint32(4, i);
  const key = Array.from(id, (b) => b.toString(16).padStart(2, "0")).join("");
  const name = `${["film", "song", "photo", "Backup"][i % 4]}-${(i * 7919) % NAMES}.${
    ["mkv", "flac", "jpg", "tar"][i % 4]
  }`;
  index.own(`p${owner}`, from(owner), 0, name, key, i, 1e9);
}
// No scan budget here: the benchmark measures what each LIST costs.
const listing = new FileListing(index, { scanPerSecond: Infinity, rowsPerRefreshMs: Infinity });
let now = 0;
const page = (q: Partial<ListQuery>): ListingPage => {
  const p = listing.page(
    { pattern: "", match: "substring", cursor: 0, maxEntries: 0, ...q },
    SAFE_DATAGRAM,
    now,
  );
  if (p === "busy") throw new Error("busy");
  return p;
};
page({}); // build the snapshot once
let sink = 0;
let n = 0;

Deno.bench("list: a page of everything (cached snapshot)", { group: "list" }, () => {
  sink += page({ cursor: (n++ * 17) % NAMES }).entries.length;
});
Deno.bench("list: a page of a cached substring", { group: "list" }, () => {
  sink += page({ pattern: "FILM-1", cursor: (n++ * 3) % 1000 }).entries.length;
});
Deno.bench("list: a new substring pattern (scans 100k names)", { group: "list" }, () => {
  sink += page({ pattern: `-${n++ % 100000}.` }).total;
});
Deno.bench("list: a new glob pattern (scans 100k names)", { group: "list" }, () => {
  sink += page({ pattern: `*${n++ % 10000}*.m?v`, match: "glob" }).total;
});
Deno.bench("list: a hostile glob *a*a*…*b, 100 stars (scans 100k names)", { group: "list" }, () => {
  sink += page({ pattern: "*a".repeat(100) + `*${n++}`, match: "glob" }).total;
});
Deno.bench("list: exact name (live index)", { group: "list" }, () => {
  sink += page({ pattern: `film-${(n++ * 4 * 7919) % NAMES}.mkv`, match: "exact" }).total;
});
Deno.bench("list: snapshot rebuild after a change (sort of 100k)", { group: "list" }, () => {
  n++;
  index.own("p0", from(0), 0, `new-${n}.bin`, `${n}`.padStart(64, "f"), 1, 1e9);
  now += 1000;
  sink += page({}).total;
});

globalThis.addEventListener("unload", () => {
  if (sink === -1) console.log(sink);
});
