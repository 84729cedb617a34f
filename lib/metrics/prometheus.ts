/**
 * The Prometheus text exposition format (version 0.0.4), for the tracker's and the peer's
 * `GET /metrics`: metric families of counters, gauges and histograms rendered as `# HELP`,
 * `# TYPE` and one line per sample. Pure; no I/O.
 * @module
 */

/** One sample of a family: its labels and value (and a name suffix for histograms). */
export interface MetricSample {
  /** Label names and values. @default {} */
  labels?: Record<string, string>;
  /** The value. */
  value: number;
  /** Appended to the family name, e.g. `_bucket`. @default "" */
  suffix?: string;
}

/** A metric family: a name, its help text, its type and its samples. */
export interface MetricFamily {
  /** `snake_case` name, e.g. `udpswarm_tracker_requests_total`. */
  name: string;
  /** One line for people. */
  help: string;
  /** Prometheus type. */
  type: "counter" | "gauge" | "histogram";
  /** The samples. */
  samples: MetricSample[];
}

/** Escapes a label value: backslash, double quote and line feed. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** A number as Prometheus writes it (`+Inf`, `-Inf`, `NaN`). */
function formatValue(v: number): string {
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return Number.isNaN(v) ? "NaN" : String(v);
}

/**
 * Renders families in the text format.
 *
 * @param families The metric families, in the order to print them.
 * @returns The body of a `GET /metrics` answer, ending with a newline.
 */
export function renderPrometheus(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${f.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
    lines.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels ?? {});
      const text = labels.length === 0
        ? ""
        : `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
      lines.push(`${f.name}${s.suffix ?? ""}${text} ${formatValue(s.value)}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** A cumulative histogram with fixed upper bounds (in the unit observed, e.g. seconds). */
export class Histogram {
  /** Upper bounds of the buckets, increasing; `+Inf` is implied. */
  readonly bounds: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  /** Creates an empty histogram with these bucket bounds (sorted increasing). */
  constructor(bounds: readonly number[]) {
    this.bounds = [...bounds].sort((a, b) => a - b);
    this.#counts = new Array(this.bounds.length).fill(0);
  }

  /** Records one value. */
  observe(value: number): void {
    this.#sum += value;
    this.#count++;
    const i = this.bounds.findIndex((b) => value <= b);
    if (i >= 0) this.#counts[i]!++;
  }

  /** Values observed. */
  get count(): number {
    return this.#count;
  }

  /** Sum of the values observed. */
  get sum(): number {
    return this.#sum;
  }

  /** The samples of a `histogram` family: cumulative `_bucket`s, `_sum` and `_count`. */
  samples(labels: Record<string, string> = {}): MetricSample[] {
    const out: MetricSample[] = [];
    let cumulative = 0;
    this.bounds.forEach((b, i) => {
      cumulative += this.#counts[i]!;
      out.push({ suffix: "_bucket", labels: { ...labels, le: String(b) }, value: cumulative });
    });
    out.push({ suffix: "_bucket", labels: { ...labels, le: "+Inf" }, value: this.#count });
    out.push({ suffix: "_sum", labels, value: this.#sum });
    out.push({ suffix: "_count", labels, value: this.#count });
    return out;
  }

  /** A JSON summary: count, sum and the cumulative count per bound. */
  toJSON(): { count: number; sum: number; buckets: Record<string, number> } {
    const buckets: Record<string, number> = {};
    for (const s of this.samples()) {
      if (s.suffix === "_bucket") buckets[s.labels!.le!] = s.value;
    }
    return { count: this.#count, sum: this.#sum, buckets };
  }
}
