import { readFileSync, readdirSync } from "node:fs";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type http from "node:http";

/**
 * The web console's built files (dist/console/, written by `npm run build`
 * from console/, docs/console.md), served at /console/ on the API's own
 * listener. The console is a static page that calls the public AWS APIs on
 * this same origin with SigV4, so it needs nothing of the server but these
 * files; it holds no server code and no secret.
 *
 * The files are read once, when the server starts (a handful, under a
 * megabyte); a path that is not one of them is 404: no path from the request
 * ever reaches the file system.
 */

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json; charset=utf-8",
};

/**
 * Everything from this origin only, no inline script or style, no framing, no
 * form posts anywhere, no referrer: the console can reach nothing but this
 * server's APIs.
 */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const SECURITY_HEADERS = {
  "content-security-policy": CONSOLE_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
};

interface ConsoleFile {
  type: string;
  body: Buffer;
}

/** Where `npm run build` writes the console, from this file's place in the package. */
export const CONSOLE_DIR = fileURLToPath(new URL("../../dist/console/", import.meta.url));

export interface ConsoleFiles {
  /** Answers GET/HEAD under /console; false when the path is not the console's. */
  serve(req: http.IncomingMessage, res: http.ServerResponse, path: string, requestId: string): boolean;
}

/**
 * Loads the console's files from `dir`. The region this server serves is
 * written into index.html's `coffer-region` meta tag, so the browser signs
 * for it (a meta tag, not an inline script: the CSP forbids those).
 */
export function loadConsole(region: string, dir: string = CONSOLE_DIR): ConsoleFiles {
  const files = new Map<string, ConsoleFile>();
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    // Not built (a checkout without `npm run build`): /console/ says so.
  }
  for (const name of names) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    let body = readFileSync(join(dir, name));
    if (name === "index.html") body = Buffer.from(body.toString("utf8").replaceAll("%COFFER_REGION%", escapeAttribute(region)));
    files.set(`/console/${name}`, { type, body });
  }
  const index = files.get("/console/index.html");

  return {
    serve(req, res, path, requestId) {
      if (path !== "/console" && !path.startsWith("/console/")) return false;
      if (req.method !== "GET" && req.method !== "HEAD") {
        reply(res, 405, requestId, { type: "text/plain; charset=utf-8", body: Buffer.from("Method not allowed.\n") }, req.method, { allow: "GET, HEAD" });
        return true;
      }
      if (path === "/console") {
        res.writeHead(308, { location: "/console/", "content-length": 0, "x-amzn-RequestId": requestId, ...SECURITY_HEADERS });
        res.end();
        return true;
      }
      const file = path === "/console/" ? index : files.get(path);
      if (file) {
        reply(res, 200, requestId, file, req.method);
      } else {
        const text = index ? "Not found.\n" : "The console is not built: run `npm run build` (npm install runs it).\n";
        reply(res, 404, requestId, { type: "text/plain; charset=utf-8", body: Buffer.from(text) }, req.method);
      }
      return true;
    },
  };
}

function reply(res: http.ServerResponse, status: number, requestId: string, file: ConsoleFile, method: string | undefined, extra: Record<string, string> = {}) {
  res.writeHead(status, {
    "content-type": file.type,
    "content-length": file.body.length,
    // The page is small and changes with every install: always revalidated, never stale after an upgrade.
    "cache-control": "no-cache",
    "x-amzn-RequestId": requestId,
    ...SECURITY_HEADERS,
    ...extra,
  });
  res.end(method === "HEAD" ? undefined : file.body);
}

function escapeAttribute(s: string): string {
  return s.replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`);
}
