import { CreateUserCommand, IAMClient } from "@aws-sdk/client-iam";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { KNOWN } from "./fuzz-gen.ts";

/** Creates the few things fuzzed requests name (KNOWN), so signed ones reach past "not found". */
export async function seedKnown(url: string, credentials: { accessKeyId: string; secretAccessKey: string }): Promise<void> {
  const config = { endpoint: url, region: "us-east-1", credentials, maxAttempts: 1 };
  await new SecretsManagerClient(config).send(
    new CreateSecretCommand({ Name: KNOWN.secret, SecretString: JSON.stringify({ username: "fuzz", password: "fuzz-pw-0000" }) }),
  );
  await new SSMClient(config).send(new PutParameterCommand({ Name: KNOWN.parameter, Value: "fuzz", Type: "SecureString" }));
  await new IAMClient(config).send(new CreateUserCommand({ UserName: KNOWN.user }));
}
