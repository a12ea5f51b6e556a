// Small helpers shared by the load generator's modes: a clock, percentiles, a bounded
// parallel map, and the line protocol with the Python runner (JSON lines on stdout).
import { performance } from "node:perf_hooks";

/** Wall-clock milliseconds with sub-millisecond resolution, shared by every socket. */
export const now = () => performance.timeOrigin + performance.now();

/** p50/p95/p99/max (ms) of a list of latencies, rounded to 0.01 ms. */
export function percentiles(values) {
  if (values.length === 0) return { count: 0, p50: null, p95: null, p99: null, max: null };
  const sorted = Float64Array.from(values).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const round = (x) => Math.round(x * 100) / 100;
  return {
    count: sorted.length,
    p50: round(at(0.5)),
    p95: round(at(0.95)),
    p99: round(at(0.99)),
    max: round(sorted[sorted.length - 1]),
  };
}

/** Run `worker(item)` over `items` with at most `limit` in flight; results in order. */
export async function mapLimit(items, limit, worker) {
  const results = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await worker(items[index], index);
    }
  });
  await Promise.all(lanes);
  return results;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Tell the runner something: one JSON object per line. */
export function emit(event, fields = {}) {
  const cpu = process.cpuUsage();
  const generator_cpu_ms = Math.round((cpu.user + cpu.system) / 1000);
  process.stdout.write(`${JSON.stringify({ event, generator_cpu_ms, ...fields })}\n`);
}

/** Wait until `check()` is true, polling every `everyMs`; false after `timeoutMs`. */
export async function until(check, timeoutMs, everyMs = 20) {
  const deadline = now() + timeoutMs;
  while (!check()) {
    if (now() > deadline) return false;
    await sleep(everyMs);
  }
  return true;
}

/**
 * Wait for deliveries to complete. Resolves "done" as soon as `done()`; "stalled" when
 * `progress()` has not moved for `idleMs` (what is missing then is lost); "deadline"
 * after `maxMs` while still moving (an overloaded server: what is missing is late).
 */
export async function drain(done, progress, idleMs, maxMs) {
  const started = now();
  let last = progress();
  let lastMove = now();
  while (!done()) {
    await sleep(10);
    const current = progress();
    if (current !== last) {
      last = current;
      lastMove = now();
    }
    if (now() - lastMove > idleMs) return "stalled";
    if (now() - started > maxMs) return "deadline";
  }
  return "done";
}

/**
 * Call `fire(lane)` for each lane at its own pace — lane i at `due_i`, `due_i + period`…
 * until `end` — sleeping until the next one is due (open loop: a slow server never slows
 * the senders down). Resolves at `end`.
 */
export async function pace(lanes, period, end, fire) {
  for (;;) {
    const t = now();
    let next = end;
    for (const lane of lanes) {
      while (lane.due <= t && lane.due < end) {
        fire(lane);
        lane.due += period;
      }
      if (lane.due < next) next = lane.due;
    }
    if (t >= end) return;
    await sleep(Math.max(0, Math.min(next, end) - now()));
  }
}
