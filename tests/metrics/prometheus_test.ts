/**
 * The Prometheus text format and the histogram behind `--metrics`.
 * @module
 */
import assert from "node:assert/strict";
import { Histogram, renderPrometheus } from "../../lib/metrics/prometheus.ts";
import { parseMetricsAddress } from "../../lib/metrics/metrics_server.ts";

const none = { permissions: "none" } as const;

Deno.test(
  "renderPrometheus() writes HELP, TYPE and one line per sample, labels escaped",
  none,
  () => {
    const text = renderPrometheus([
      {
        name: "x_requests_total",
        help: "Requests",
        type: "counter",
        samples: [{ labels: { type: "need", result: "ok" }, value: 3 }, {
          labels: { type: 'a"b\\c\nd' },
          value: 1,
        }],
      },
      { name: "x_peers", help: "Peers", type: "gauge", samples: [{ value: 2 }] },
    ]);
    assert.equal(
      text,
      [
        "# HELP x_requests_total Requests",
        "# TYPE x_requests_total counter",
        'x_requests_total{type="need",result="ok"} 3',
        'x_requests_total{type="a\\"b\\\\c\\nd"} 1',
        "# HELP x_peers Peers",
        "# TYPE x_peers gauge",
        "x_peers 2",
        "",
      ].join("\n"),
    );
  },
);

Deno.test("Histogram counts cumulatively, with +Inf, _sum and _count", none, () => {
  const h = new Histogram([0.01, 0.001]);
  for (const v of [0.0005, 0.005, 0.5]) h.observe(v);
  assert.deepEqual(h.samples().map((s) => [s.suffix, s.labels?.le, s.value]), [
    ["_bucket", "0.001", 1],
    ["_bucket", "0.01", 2],
    ["_bucket", "+Inf", 3],
    ["_sum", undefined, 0.5055],
    ["_count", undefined, 3],
  ]);
  assert.deepEqual(h.toJSON().buckets, { "0.001": 1, "0.01": 2, "+Inf": 3 });
});

Deno.test("parseMetricsAddress() binds loopback for a bare port", none, () => {
  assert.deepEqual(parseMetricsAddress("9100"), { hostname: "127.0.0.1", port: 9100 });
  assert.deepEqual(parseMetricsAddress("0.0.0.0:9100"), { hostname: "0.0.0.0", port: 9100 });
  assert.deepEqual(parseMetricsAddress("[::1]:0"), { hostname: "::1", port: 0 });
  assert.throws(() => parseMetricsAddress("70000"), TypeError);
  assert.throws(() => parseMetricsAddress("host"), TypeError);
});
