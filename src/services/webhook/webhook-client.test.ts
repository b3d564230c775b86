import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createWebhookClient, MAX_RESPONSE_BYTES, WebhookError } from "./webhook-client.ts";
import { webhookNetworks } from "./webhook-networks.ts";

describe("webhookNetworks", () => {
  it("refuses loopback, private, link-local, CGNAT, unspecified, metadata and NAT64 addresses by default", () => {
    const n = webhookNetworks();
    for (const a of ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "169.254.169.254", "0.0.0.0", "::", "::1", "fe80::1", "fc00::1", "fd00:ec2::254", "64:ff9b::a9fe:a9fe", "64:ff9b:1::a00:1"]) {
      expect(n.allows(a), a).toBe(false);
    }
    // IPv4-mapped IPv6, in both notations, is judged by its IPv4 address.
    expect(n.allows("::ffff:127.0.0.1")).toBe(false);
    expect(n.allows("::ffff:7f00:1")).toBe(false);
    expect(n.allows("::ffff:a9fe:a9fe")).toBe(false);
    for (const a of ["93.184.216.34", "2606:4700::1111", "::ffff:93.184.216.34"]) expect(n.allows(a), a).toBe(true);
  });

  it("lets the operator allow-list CIDRs, and refuses what is not one", () => {
    const n = webhookNetworks(["127.0.0.0/8", "::1/128", "10.20.0.0/16"]);
    expect(n.allows("127.0.0.1")).toBe(true);
    expect(n.allows("::1")).toBe(true);
    expect(n.allows("10.20.3.4")).toBe(true);
    expect(n.allows("10.21.0.1")).toBe(false);
    expect(n.allows("169.254.169.254")).toBe(false);
    for (const bad of ["10.0.0.0/33", "intranet", "10.0.0.0/8/8", "::1/129", "1.2.3.4/x"]) expect(() => webhookNetworks([bad]), bad).toThrow(/CIDR/);
  });
});

describe("createWebhookClient", () => {
  const servers: (Server | TcpServer)[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) {
      if ("closeAllConnections" in s) s.closeAllConnections();
      s.close();
    }
  });

  async function listen<T extends Server | TcpServer>(server: T): Promise<number> {
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return (server.address() as AddressInfo).port;
  }
  const hits: string[] = [];
  const receiver = (answer: (res: import("node:http").ServerResponse) => void) =>
    createHttpServer((req, res) => {
      req.resume();
      req.on("end", () => {
        hits.push(req.url ?? "");
        answer(res);
      });
    });
  const post = (client: ReturnType<typeof createWebhookClient>, url: string, timeoutMs = 5000) => client.post({ url, headers: {}, body: "{}", timeoutMs });
  const reason = async (p: Promise<unknown>) => {
    const err = await p.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(WebhookError);
    return (err as WebhookError).reason;
  };

  it("checks every resolved address at connect time and connects to the address it checked", async () => {
    const port = await listen(receiver((res) => res.writeHead(204).end()));
    // A name that resolves to loopback: refused without an allow-list, whatever the name looks like.
    const toLoopback = createWebhookClient(webhookNetworks(), (_host, cb) => cb(null, [{ address: "127.0.0.1", family: 4 }]));
    expect(await reason(post(toLoopback, `http://rebind.example:${port}/x`))).toMatch(/127\.0\.0\.1 is not allowed/);
    // One bad address among good ones is enough to refuse.
    const mixed = createWebhookClient(webhookNetworks(), (_host, cb) => cb(null, [{ address: "93.184.216.34", family: 4 }, { address: "10.0.0.1", family: 4 }]));
    expect(await reason(post(mixed, `http://mixed.example:${port}/x`))).toMatch(/10\.0\.0\.1 is not allowed/);
    expect(hits).toEqual([]);
    // Allowed: the connection goes to the address the lookup checked (the name itself resolves nowhere).
    const allowed = createWebhookClient(webhookNetworks(["127.0.0.0/8"]), (_host, cb) => cb(null, [{ address: "127.0.0.1", family: 4 }]));
    expect(await post(allowed, `http://rebind.example:${port}/ok`)).toBe(204);
    expect(hits).toEqual(["/ok"]);
  });

  it("refuses IP literals, which never reach a lookup", async () => {
    const client = createWebhookClient(webhookNetworks());
    for (const url of ["http://127.0.0.1:1/", "http://[::1]:1/", "http://[::ffff:127.0.0.1]:1/", "http://2130706433:1/", "http://169.254.169.254/latest/meta-data/", "http://0.0.0.0:1/"]) {
      expect(await reason(post(client, url)), url).toMatch(/not allowed/);
      expect(() => client.checkLiteralHost(url)).toThrow(WebhookError);
    }
  });

  it("does not follow redirects, caps the response body, and fails garbage and silence with a fixed reason", async () => {
    const client = createWebhookClient(webhookNetworks(["127.0.0.0/8"]));
    const redirect = await listen(receiver((res) => res.writeHead(302, { location: "http://169.254.169.254/" }).end()));
    expect(await post(client, `http://127.0.0.1:${redirect}/`)).toBe(302);

    const flood = await listen(
      createHttpServer((req, res) => {
        req.resume();
        res.writeHead(200);
        const chunk = Buffer.alloc(64 * 1024, "x");
        const pump = () => {
          while (res.write(chunk));
        };
        res.on("drain", pump);
        pump();
      }),
    );
    expect(await reason(post(client, `http://127.0.0.1:${flood}/`))).toBe(`the response body is over ${MAX_RESPONSE_BYTES} bytes`);

    const garbage = await listen(createTcpServer((s) => s.end("SECRET-ECHO not http at all\r\n\r\n")));
    const garbageReason = await reason(post(client, `http://127.0.0.1:${garbage}/`));
    expect(garbageReason).not.toContain("SECRET-ECHO");

    const silent = await listen(createTcpServer(() => undefined));
    // A hang detector, not a timing: the bound is what is configured.
    expect(await reason(post(client, `http://127.0.0.1:${silent}/`, 300))).toBe("no complete answer within 300 ms");
  });
});
