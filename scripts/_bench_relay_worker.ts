/// <reference lib="deno.worker" />
/**
 * Worker half of scripts/bench_relay.ts: a windowed sender and a sink, so the relay in the main
 * thread has a core of its own. Messages: `{ type: "open" }` → `{ type: "sink", port }`;
 * `{ type: "run", to, size, window, seconds }` → `{ type: "done", bytes, datagrams, seconds }`.
 * @module
 */
import { UdpEndpoint } from "../lib/net/udp_endpoint.ts";

let sink: UdpEndpoint | undefined;
let sender: UdpEndpoint | undefined;
let receivedBytes = 0;
let received = 0;
let wake: (() => void) | undefined;

self.onmessage = async (e: MessageEvent) => {
  const msg = e.data;
  if (msg.type === "open") {
    sink = UdpEndpoint.open();
    sink.onDatagram((bytes) => {
      received++;
      receivedBytes += bytes.length;
      wake?.();
    });
    sender = UdpEndpoint.open();
    self.postMessage({ type: "sink", port: sink.localAddr.port });
  } else if (msg.type === "run") {
    const to: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port: msg.to };
    const payload = new Uint8Array(msg.size);
    const start = performance.now();
    const end = start + msg.seconds * 1000;
    const startBytes = receivedBytes;
    const startCount = received;
    let sent = 0;
    let lostAllowance = 0;
    while (performance.now() < end) {
      // Window by datagrams in flight; whatever did not arrive within 5 ms counts as lost.
      while (sent - (received - startCount) - lostAllowance < msg.window) {
        sender!.send(payload, to);
        sent++;
      }
      const before = received;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, 5);
      });
      clearTimeout(timer);
      wake = undefined;
      if (received === before) lostAllowance = sent - (received - startCount);
    }
    const seconds = (performance.now() - start) / 1000;
    self.postMessage({
      type: "done",
      bytes: receivedBytes - startBytes,
      datagrams: received - startCount,
      sent,
      seconds,
    });
  } else if (msg.type === "close") {
    await sink?.close();
    await sender?.close();
    self.postMessage({ type: "closed" });
  }
};
