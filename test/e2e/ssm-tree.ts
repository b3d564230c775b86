import type { Store } from "../../src/storage/store.ts";

/**
 * A configuration tree written straight into a Store in one transaction (a
 * test fixture and the benchmark's: 10,000 PutParameter calls would measure
 * the setup, not the read). Names are <root>/b<i>/p<j>, String values
 * "value-<i>-<j>", version 1, as PutParameter would leave them.
 */
export async function seedParameterTree(
  store: Store,
  opts: { accountId: string; region: string; root: string; branches: number; perBranch: number },
): Promise<void> {
  const now = Date.now();
  const user = `arn:aws:iam::${opts.accountId}:root`;
  await store.transaction(async (tx) => {
    for (let i = 0; i < opts.branches; i++) {
      for (let j = 0; j < opts.perBranch; j++) {
        const name = `${opts.root}/b${i}/p${j}`;
        const arn = `arn:aws:ssm:${opts.region}:${opts.accountId}:parameter${name}`;
        await tx.putParameter({
          arn,
          accountId: opts.accountId,
          name,
          version: 1,
          type: "String",
          tier: "Standard",
          dataType: "text",
          policies: [],
          lastModifiedAt: now,
          lastModifiedUser: user,
          tags: [],
        });
        await tx.putParameterVersion({
          parameterArn: arn,
          version: 1,
          createdAt: now,
          createdBy: user,
          type: "String",
          tier: "Standard",
          dataType: "text",
          labels: [],
          value: `value-${i}-${j}`,
        });
      }
    }
  });
}
