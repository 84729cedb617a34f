import assert from "node:assert/strict";
import fc from "fast-check";
import { StringTable } from "../../../lib/tracker/store/string_table.ts";

const none = { permissions: "none" } as const;

Deno.test(
  "StringTable agrees with a Map through adds and deletes, growing and shrinking",
  none,
  () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 300 })), { maxLength: 2000 }),
        (ops) => {
          const keyOf: (string | undefined)[] = [];
          const t = new StringTable(keyOf);
          const model = new Map<string, number>();
          const free: number[] = [];
          for (const [add, n] of ops) {
            const key = `10.0.${n >> 4}.${n & 15}`;
            if (add && !model.has(key)) {
              const row = free.pop() ?? keyOf.length;
              keyOf[row] = key;
              t.add(key, row);
              model.set(key, row);
            } else if (!add && model.has(key)) {
              const row = model.get(key)!;
              t.delete(key);
              keyOf[row] = undefined;
              free.push(row);
              model.delete(key);
            }
            assert.equal(t.size, model.size);
          }
          for (let n = 0; n <= 300; n++) {
            const key = `10.0.${n >> 4}.${n & 15}`;
            assert.equal(t.get(key), model.get(key) ?? -1, key);
          }
          assert.ok(t.bytes >= 8 * t.size && (t.bytes <= 256 || t.bytes <= 32 * t.size + 64));
        },
      ),
      { numRuns: 200 },
    );
  },
);
