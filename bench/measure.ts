import autocannon from "autocannon";

/** Signed POSTs replayed over keep-alive connections: requests/s and p50/p99 latency; any non-2xx or error fails the run. */
export async function measure(url: string, headers: Record<string, string>, body: string, connections: number, duration: number) {
  const result = await autocannon({ url, method: "POST", headers, body, connections, duration, pipelining: 1 });
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx responses, ${result.errors} errors`);
  }
  return { rps: Math.round(result.requests.average), p50_ms: result.latency.p50, p99_ms: result.latency.p99 };
}
