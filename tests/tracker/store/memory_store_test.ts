import { MemoryStore } from "../../../lib/tracker/store/memory_store.ts";
import { prng } from "../_registry_harness.ts";
import { swarmStoreSuite } from "./_swarm_store_suite.ts";

swarmStoreSuite("MemoryStore", () => {
  const store = new MemoryStore({ rateTauMs: 60_000, random: prng(7) });
  return Promise.resolve(Object.assign(store, { [Symbol.asyncDispose]: () => store.close() }));
});
