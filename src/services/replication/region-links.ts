import type { Keyring } from "../../crypto/keyring.ts";
import { CofferError } from "../../shared/errors.ts";
import type { RegionLinkRecord, ReplicationStore, ReplicationTx } from "../../storage/store.ts";
import type { OpenLink } from "./replication-types.ts";

const REGION_PATTERN = /^([a-z]+-)+\d+$/;

/** The AAD of a link's sealed secret access key: it opens only as this link's, for this key id. */
const linkAad = (name: string, accessKeyId: string) => `region-link\n${name}\n${accessKeyId}`;

/** What `coffer region list` shows of a link (never its secret). */
export interface LinkSummary {
  name: string;
  endpoint: string;
  accessKeyId: string;
  tls: "public CA" | "own CA" | "none";
  createdAt: number;
}

/**
 * Links to other regions (`coffer region add|list|remove`): where each is and
 * the credentials this region signs with there, the secret access key sealed
 * under the master key. Only the operator (whoever opens the data with its
 * master key) makes them.
 */
export function createRegionLinks({
  store,
  keyring,
  region,
  clock,
}: {
  store: ReplicationStore;
  keyring: Pick<Keyring, "sealWithMaster" | "openWithMaster">;
  region: string;
  clock: { now(): number };
}) {
  return {
    async add(input: { name: string; endpoint: string; accessKeyId: string; secretAccessKey: string; caCertificate?: string }): Promise<LinkSummary> {
      if (!REGION_PATTERN.test(input.name)) throw new CofferError("InvalidParameter", `Invalid region name: ${input.name}.`);
      if (input.name === region) throw new CofferError("InvalidParameter", `${input.name} is this region: a region cannot link to itself.`);
      let url: URL;
      try {
        url = new URL(input.endpoint);
      } catch {
        throw new CofferError("InvalidParameter", `Invalid endpoint: ${input.endpoint}.`);
      }
      if (url.protocol !== "https:" && url.protocol !== "http:") throw new CofferError("InvalidParameter", "The endpoint must be an http:// or https:// URL.");
      if (!input.accessKeyId || !input.secretAccessKey) throw new CofferError("InvalidParameter", "The link needs an access key id and a secret access key of the peer region.");
      const { masterKeyId, sealed } = keyring.sealWithMaster(Buffer.from(input.secretAccessKey, "utf8"), linkAad(input.name, input.accessKeyId));
      const link: RegionLinkRecord = {
        name: input.name,
        endpoint: url.toString().replace(/\/$/, ""),
        accessKeyId: input.accessKeyId,
        masterKeyId,
        sealedSecretAccessKey: sealed,
        createdAt: clock.now(),
      };
      if (input.caCertificate) link.caCertificate = input.caCertificate;
      await store.transaction((tx) => tx.putRegionLink(link));
      return summary(link);
    },

    async list(): Promise<LinkSummary[]> {
      return (await store.listRegionLinks()).map(summary);
    },

    async remove(name: string): Promise<void> {
      await store.transaction(async (tx) => {
        if (!(await tx.getRegionLink(name))) throw new CofferError("NotFound", `There is no link to region ${name}.`);
        await tx.deleteRegionLink(name);
      });
    },

    /** The link with its secret opened, for the peer client; undefined when there is none. */
    async open(name: string): Promise<OpenLink | undefined> {
      const link = await store.getRegionLink(name);
      if (!link) return undefined;
      const secret = keyring.openWithMaster(link.masterKeyId, link.sealedSecretAccessKey, linkAad(link.name, link.accessKeyId));
      const open: OpenLink = { name: link.name, endpoint: link.endpoint, accessKeyId: link.accessKeyId, secretAccessKey: secret.toString("utf8") };
      if (link.caCertificate) open.caCertificate = link.caCertificate;
      return open;
    },

  };
}

/** Master key rotation, in its transaction: every link's key sealed again under the current master key. */
export async function resealRegionLinks(
  tx: Pick<ReplicationTx, "listRegionLinks" | "putRegionLink">,
  keyring: Pick<Keyring, "resealWithMaster">,
): Promise<number> {
  const links = await tx.listRegionLinks();
  for (const link of links) {
    const next = keyring.resealWithMaster(link.masterKeyId, link.sealedSecretAccessKey, linkAad(link.name, link.accessKeyId));
    await tx.putRegionLink({ ...link, masterKeyId: next.masterKeyId, sealedSecretAccessKey: next.sealed });
  }
  return links.length;
}

function summary(link: RegionLinkRecord): LinkSummary {
  return {
    name: link.name,
    endpoint: link.endpoint,
    accessKeyId: link.accessKeyId,
    tls: link.endpoint.startsWith("https:") ? (link.caCertificate ? "own CA" : "public CA") : "none",
    createdAt: link.createdAt,
  };
}

export type RegionLinks = ReturnType<typeof createRegionLinks>;
