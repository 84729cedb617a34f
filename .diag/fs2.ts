import { UploadSlots } from "../lib/peer/core/upload_slots.ts";
const s = new UploadSlots({});
for (let t = 0; t < 1200; t += 5) {
  for (let k = 0; k < 50; k++) { const p = (t / 5 * 50 + k) % 1000; s.admit(`a|${p}`, "a", t); }
  if (t >= 500) { const ok = s.admit("h|1", "h", t); if (ok) { console.log("honest ok at", t); break; } }
}
console.log(s.stats);
