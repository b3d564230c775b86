import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, expect, it } from "vitest";
import { CONSOLE_DIR } from "../../src/server/console-static.ts";
import { startCoffer, type Running } from "./harness.ts";

/**
 * The web console's files as the server serves them (docs/console.md),
 * without a browser: built by `npm run build` (the test run's global setup
 * runs it), under the size budget, with their content types and a strict
 * Content-Security-Policy. test/e2e/console.test.ts drives them in chromium.
 */

let run: Running;
beforeAll(async () => {
  run = await startCoffer();
});
afterAll(() => run.stop());

it("the built console's JavaScript is under 300 KB gzipped", () => {
  const js = readFileSync(join(CONSOLE_DIR, "app.js"));
  const gzipped = gzipSync(js, { level: 9 }).length;
  expect(gzipped).toBeGreaterThan(1000);
  expect(gzipped).toBeLessThan(300 * 1024);
});

it("serves the page, its script and styles with their types and a CSP that allows nothing inline and nothing elsewhere", async () => {
  const res = await fetch(`${run.url}/console/`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
  const csp = res.headers.get("content-security-policy")!;
  for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "form-action 'none'", "base-uri 'none'"]) {
    expect(csp).toContain(directive);
  }
  expect(csp).not.toMatch(/unsafe-|https?:|\*/);
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  expect(res.headers.get("referrer-policy")).toBe("no-referrer");
  const html = await res.text();
  // The region the browser signs for, from the server's configuration; no inline script.
  expect(html).toContain('<meta name="coffer-region" content="us-east-1"');
  expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
  expect(html).not.toMatch(/https?:\/\//);

  const js = await fetch(`${run.url}/console/app.js`);
  expect(js.status).toBe(200);
  expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
  expect(js.headers.get("content-security-policy")).toBe(csp);
  const css = await fetch(`${run.url}/console/style.css`);
  expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");

  const head = await fetch(`${run.url}/console/app.js`, { method: "HEAD" });
  expect(head.status).toBe(200);
  expect(Number(head.headers.get("content-length"))).toBe((await js.arrayBuffer()).byteLength);
});

it("answers only its own files: other paths 404, no way out of the folder, no writes", async () => {
  expect((await fetch(`${run.url}/console/nothing.js`)).status).toBe(404);
  for (const path of ["/console/%2e%2e/%2e%2e/package.json", "/console/..%2fpackage.json", "/console/..%2f..%2fpackage.json", "/console/app.js%00.html"]) {
    const res = await fetch(`${run.url}${path}`);
    expect([400, 404]).toContain(res.status);
    expect(await res.text()).not.toContain('"name": "coffer"');
  }
  const post = await fetch(`${run.url}/console/`, { method: "POST", body: "x" });
  expect(post.status).toBe(405);
  expect(post.headers.get("allow")).toBe("GET, HEAD");
  const redirect = await fetch(`${run.url}/console`, { redirect: "manual" });
  expect(redirect.status).toBe(308);
  expect(redirect.headers.get("location")).toBe("/console/");
  // The API is where it was.
  expect((await fetch(`${run.url}/health`)).status).toBe(200);
});
