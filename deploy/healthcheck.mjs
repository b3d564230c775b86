// The container's health check: GET /ready on this container's own port.
// Exit 0 when ready, 1 otherwise (Docker HEALTHCHECK, or any probe that runs a command).
// With --tls auto the server's certificate is its own self-signed one: this check talks to
// 127.0.0.1 only, so it does not verify it.
import http from "node:http";
import https from "node:https";

const port = Number(process.env.COFFER_PORT ?? 4599);
const tls = (process.env.COFFER_TLS ?? "off") !== "off" || Boolean(process.env.COFFER_TLS_CERT);
const get = tls ? https.get : http.get;
const req = get({ host: "127.0.0.1", port, path: "/ready", timeout: 4000, rejectUnauthorized: false }, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on("timeout", () => req.destroy(new Error("timeout")));
req.on("error", () => process.exit(1));
