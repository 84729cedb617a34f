/**
 * The HTTP endpoint behind `--metrics HOST:PORT` (tracker and peer): `GET /metrics` in the
 * Prometheus text format and `GET /stats.json`, served by `Deno.serve`. Off unless asked for;
 * a bare port binds loopback.
 * @module
 */
import { parseHostPort } from "../net/host_port.ts";
import { formatHostPort } from "../net/host_port.ts";
import { type MetricFamily, renderPrometheus } from "./prometheus.ts";

/** Where to serve, parsed from `--metrics`. */
export interface MetricsAddress {
  /** Address to bind. */
  hostname: string;
  /** TCP port; 0 picks one. */
  port: number;
}

/**
 * Parses a `--metrics` value: `PORT` (loopback), `HOST:PORT` or `[IPv6]:PORT`.
 *
 * @param text The flag's value.
 * @returns The address to bind.
 * @throws {TypeError} When it is not of that form.
 */
export function parseMetricsAddress(text: string): MetricsAddress {
  if (/^\d+$/.test(text)) {
    const port = Number(text);
    if (port > 65535) throw new TypeError(`Cannot parse --metrics: port ${text} is over 65535`);
    return { hostname: "127.0.0.1", port };
  }
  const hp = parseHostPort(text, { allowPortZero: true });
  return { hostname: hp.hostname, port: hp.port };
}

/** Options for {@link serveMetrics}. */
export interface ServeMetricsOptions extends MetricsAddress {
  /** The families for `GET /metrics`, read at each request. */
  metrics: () => MetricFamily[];
  /** The object for `GET /stats.json`, read at each request. */
  stats: () => unknown;
}

/** A running metrics endpoint. */
export interface MetricsServer extends AsyncDisposable {
  /** The bound address, e.g. `127.0.0.1:9100` or `[::1]:9100`. */
  readonly address: string;
  /** Stops serving. Idempotent. */
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` and `GET /stats.json`; anything else is 404 (405 for other methods).
 *
 * @param options Address and the two readers.
 * @returns The running server; `await using` closes it.
 * @throws {Deno.errors.AddrInUse} When the port is taken.
 */
export function serveMetrics(options: ServeMetricsOptions): MetricsServer {
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: () => {},
  }, (req) => {
    const path = new URL(req.url).pathname;
    if (path !== "/metrics" && path !== "/stats.json") {
      return new Response("not found: try /metrics or /stats.json\n", { status: 404 });
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET" } });
    }
    if (path === "/metrics") {
      return new Response(renderPrometheus(options.metrics()), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    }
    return Response.json(options.stats());
  });
  const addr = server.addr as Deno.NetAddr;
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= server.shutdown());
  return {
    address: formatHostPort(addr),
    close,
    [Symbol.asyncDispose]: close,
  };
}
