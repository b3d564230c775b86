import { randomUUID } from "node:crypto";
import http from "node:http";
import Fastify from "fastify";

/**
 * The HTTP layer alone, as Coffer used it: fastify (raw-body parser for every
 * content type, an onSend hook for the request id, genReqId) or node:http (the
 * body read by hand, the same headers). Both answer a small JSON body. Run by
 * bench/transport.ts; argv[2] is "fastify" or "node".
 */
const body = JSON.stringify({ ARN: "arn:aws:secretsmanager:us-east-1:000000000000:secret:bench/db-AbCdEf", Name: "bench/db", SecretString: "x".repeat(60) });
const kind = process.argv[2];
let server: http.Server;
if (kind === "fastify") {
  const app = Fastify({ bodyLimit: 1 << 20, genReqId: () => randomUUID(), forceCloseConnections: "idle" });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, b, done) => done(null, b));
  app.addHook("onSend", async (request, reply) => {
    reply.header("x-amzn-RequestId", request.id);
  });
  app.post("/", async (request, reply) => {
    const raw = request.raw.headersDistinct;
    if (!raw.authorization || !(request.body as Buffer).length) throw new Error("no");
    reply.code(200).header("content-type", "application/x-amz-json-1.1").send(Buffer.from(body));
    return reply;
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  server = app.server;
} else {
  server = http.createServer((req, res) => {
    const id = randomUUID();
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const b = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      if (!req.headersDistinct.authorization || !b.length) throw new Error("no");
      res.writeHead(200, { "content-type": "application/x-amz-json-1.1", "content-length": Buffer.byteLength(body), "x-amzn-RequestId": id });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
}
const address = server.address();
process.stdout.write(`http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}\n`);
process.on("SIGTERM", () => process.exit(0));
