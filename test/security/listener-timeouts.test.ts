import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgent, type Agent } from "../../src/agent/agent-server.ts";
import { loadConfig } from "../../src/app/config.ts";
import { startCoffer, type Running } from "../e2e/harness.ts";

// Item 12 (listeners): a slowloris client (headers or body a byte at a time),
// a silent connection and an idle kept-alive one are all closed; the defaults
// close them well within 60 s. The tests set the timeouts low.

/** Generous bound: a hang detector, not a timing. The timeouts under test are 0.5-1 s. */
const CLOSED_WITHIN_MS = 8_000;

interface Watched {
  socket: Socket;
  closed: Promise<{ afterMs: number; received: string }>;
}

function open(url: string): Promise<Watched> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(Number(u.port), u.hostname, () => resolve({ socket, closed }));
    let received = "";
    socket.on("data", (d) => (received += d.toString("latin1")));
    socket.on("error", () => {});
    socket.once("error", reject);
    const closed = new Promise<{ afterMs: number; received: string }>((done) =>
      socket.on("close", () => done({ afterMs: Date.now() - started, received })),
    );
  });
}

/** Writes `text` one byte every 50 ms until the socket closes. */
function trickle(socket: Socket, text: string): void {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || socket.writableEnded) return clearInterval(timer);
    socket.write(text[i++ % text.length]);
  }, 50);
  socket.on("close", () => clearInterval(timer));
}

async function expectClosed(w: Watched): Promise<string> {
  const outcome = await Promise.race([
    w.closed,
    new Promise<"open">((r) => setTimeout(() => r("open"), CLOSED_WITHIN_MS)),
  ]);
  if (outcome === "open") w.socket.destroy();
  expect(outcome, "the server left the connection open").not.toBe("open");
  return (outcome as { received: string }).received;
}

function attacks(name: string, url: () => string, healthPath: string) {
  describe(name, () => {
    it("closes a connection that sends its headers a byte at a time", async () => {
      const w = await open(url());
      trickle(w.socket, `GET ${healthPath} HTTP/1.1\r\nHost: x\r\nX-Slow: ${"a".repeat(10_000)}`);
      await expectClosed(w);
    });

    it("closes a connection that trickles its body a byte at a time", async () => {
      const w = await open(url());
      w.socket.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 100000\r\n\r\n");
      trickle(w.socket, "{");
      await expectClosed(w);
    });

    it("closes a connection that sends nothing", async () => {
      await expectClosed(await open(url()));
    });

    it("closes a kept-alive connection left idle after a request", async () => {
      const w = await open(url());
      w.socket.write(`GET ${healthPath} HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n`);
      const received = await expectClosed(w);
      expect(received).toMatch(/^HTTP\/1\.1 \d{3}/);
    });
  });
}

let run: Running;
let agent: Agent;
beforeAll(async () => {
  run = await startCoffer({
    env: { COFFER_HEADERS_TIMEOUT_SECONDS: "0.5", COFFER_REQUEST_TIMEOUT_SECONDS: "1", COFFER_IDLE_TIMEOUT_SECONDS: "0.5" },
  });
  const unused = { send: () => Promise.reject(new Error("not used")) };
  agent = createAgent({
    port: 0,
    token: "listener-timeouts-token",
    secretsClient: unused as never,
    ssmClient: unused as never,
    timeouts: { headersMs: 500, requestMs: 1000, idleMs: 500 },
  });
  await agent.listen();
});
afterAll(async () => {
  await run.stop();
  await agent.close();
});

attacks("the Coffer server", () => run.url, "/health");
attacks("the coffer agent", () => agent.url, "/ping");

describe("defaults", () => {
  it("cut a slowloris client off well within 60 s", () => {
    const c = loadConfig({ dataDir: "/nonexistent" }, {});
    // Node checks at most every second (listener-timeouts.ts), so a client is gone after the timeout plus 1 s.
    expect(c.headersTimeoutSeconds + 1).toBeLessThan(60);
    expect(c.requestTimeoutSeconds + 1).toBeLessThan(60);
    expect(c.idleTimeoutSeconds + 1).toBeLessThan(60);
  });
});
