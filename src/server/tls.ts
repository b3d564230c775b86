import { existsSync } from "node:fs";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generate } from "selfsigned";

/**
 * `--tls auto`: a self-signed certificate for localhost and 127.0.0.1, made
 * once and kept in the data directory (both files 0600, like every file there). Clients trust it
 * with --ca-bundle / AWS_CA_BUNDLE pointing at tls-cert.pem.
 */
export async function autoCertificate(dataDir: string, host: string): Promise<{ key: string; cert: string }> {
  const keyPath = join(dataDir, "tls-key.pem");
  const certPath = join(dataDir, "tls-cert.pem");
  if (existsSync(keyPath) && existsSync(certPath)) {
    return { key: await readFile(keyPath, "utf8"), cert: await readFile(certPath, "utf8") };
  }
  const altNames: { type: 2 | 7; value?: string; ip?: string }[] = [
    { type: 2, value: "localhost" },
    { type: 7, ip: "127.0.0.1" },
    { type: 7, ip: "::1" },
  ];
  if (host !== "127.0.0.1" && host !== "0.0.0.0" && host !== "localhost" && host !== "::") {
    altNames.push(/^[\d.:]+$/.test(host) ? { type: 7, ip: host } : { type: 2, value: host });
  }
  const pems = await generate([{ name: "commonName", value: "localhost" }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    notAfterDate: new Date(Date.now() + 825 * 86_400_000),
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames },
    ],
  });
  // The explicit chmod covers a file that already existed with a looser mode.
  await writeFile(keyPath, pems.private, { mode: 0o600 });
  await chmod(keyPath, 0o600);
  await writeFile(certPath, pems.cert, { mode: 0o600 });
  await chmod(certPath, 0o600);
  return { key: pems.private, cert: pems.cert };
}
