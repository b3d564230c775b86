import { createHash } from "node:crypto";

/**
 * The AWS managed policies Coffer carries, under arn:aws:iam::aws:policy/<name>, with the default
 * version's document exactly as AWS publishes it in the AWS Managed Policy Reference Guide
 * (docs.aws.amazon.com/aws-managed-policy/latest/reference/<name>.html), and its version id,
 * creation and edit times from the same page. Statements for services Coffer does not have are
 * kept as they are: their actions never match a Coffer request. Only the default version is
 * known, so that is the only version listed. The policy ids are Coffer's (AWS's are not
 * published): "ANPA" and a hash of the name, stable across nodes and restarts.
 */
export interface AwsManagedPolicy {
  name: string;
  arn: string;
  path: "/";
  id: string;
  description: string;
  defaultVersionId: string;
  createdAt: number;
  updatedAt: number;
  document: string;
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function policyId(name: string): string {
  const digest = createHash("sha256").update(`aws-managed-policy:${name}`).digest();
  let id = "ANPA";
  for (let i = 0; i < 17; i++) id += BASE32[digest[i] % 32];
  return id;
}

type Statement = Record<string, unknown>;

function define(
  name: string,
  description: string,
  defaultVersionId: string,
  created: string,
  edited: string,
  statements: Statement[],
): AwsManagedPolicy {
  return {
    name,
    arn: `arn:aws:iam::aws:policy/${name}`,
    path: "/",
    id: policyId(name),
    description,
    defaultVersionId,
    createdAt: Date.parse(created),
    updatedAt: Date.parse(edited),
    document: JSON.stringify({ Version: "2012-10-17", Statement: statements }, null, 2),
  };
}

const policies: AwsManagedPolicy[] = [
  define("AdministratorAccess", "Provides full access to AWS services and resources.", "v1", "2015-02-06T18:39:46Z", "2015-02-06T18:39:46Z", [
    { Effect: "Allow", Action: "*", Resource: "*" },
  ]),
  define("IAMFullAccess", "Provides full access to IAM via the AWS Management Console.", "v2", "2015-02-06T18:40:00Z", "2019-06-21T19:40:00Z", [
    {
      Effect: "Allow",
      Action: [
        "iam:*",
        "organizations:DescribeAccount",
        "organizations:DescribeOrganization",
        "organizations:DescribeOrganizationalUnit",
        "organizations:DescribePolicy",
        "organizations:ListChildren",
        "organizations:ListParents",
        "organizations:ListPoliciesForTarget",
        "organizations:ListRoots",
        "organizations:ListPolicies",
        "organizations:ListTargetsForPolicy",
      ],
      Resource: "*",
    },
  ]),
  define("IAMReadOnlyAccess", "Provides read only access to IAM via the AWS Management Console.", "v4", "2015-02-06T18:40:00Z", "2018-01-25T19:11:00Z", [
    {
      Effect: "Allow",
      Action: [
        "iam:GenerateCredentialReport",
        "iam:GenerateServiceLastAccessedDetails",
        "iam:Get*",
        "iam:List*",
        "iam:SimulateCustomPolicy",
        "iam:SimulatePrincipalPolicy",
      ],
      Resource: "*",
    },
  ]),
  define(
    "SecretsManagerReadWrite",
    "Provides read/write access to AWS Secrets Manager via the AWS Management Console. Note: this exludes IAM actions, so combine with IAMFullAccess if rotation configuration is required.",
    "v6",
    "2018-04-04T18:05:00Z",
    "2026-08-25T23:37:00Z",
    [
      {
        Sid: "BasePermissions",
        Effect: "Allow",
        Action: [
          "secretsmanager:*",
          "cloudformation:CreateChangeSet",
          "cloudformation:DescribeChangeSet",
          "cloudformation:DescribeStackResource",
          "cloudformation:DescribeStacks",
          "cloudformation:ExecuteChangeSet",
          "docdb-elastic:GetCluster",
          "docdb-elastic:ListClusters",
          "ec2:DescribeSecurityGroups",
          "ec2:DescribeSubnets",
          "ec2:DescribeVpcs",
          "kms:DescribeKey",
          "kms:ListAliases",
          "kms:ListKeys",
          "lambda:ListFunctions",
          "rds:DescribeDBClusters",
          "rds:DescribeDBInstances",
          "redshift:DescribeClusters",
          "redshift-serverless:ListWorkgroups",
          "redshift-serverless:GetNamespace",
          "tag:GetResources",
        ],
        Resource: "*",
      },
      {
        Sid: "LambdaPermissions",
        Effect: "Allow",
        Action: ["lambda:AddPermission", "lambda:CreateFunction", "lambda:GetFunction", "lambda:InvokeFunction", "lambda:UpdateFunctionConfiguration"],
        Resource: "arn:aws:lambda:*:*:function:SecretsManager*",
      },
      {
        Sid: "SARPermissions",
        Effect: "Allow",
        Action: ["serverlessrepo:CreateCloudFormationChangeSet", "serverlessrepo:GetApplication"],
        Resource: "arn:aws:serverlessrepo:*:*:applications/SecretsManager*",
      },
      {
        Sid: "S3Permissions",
        Effect: "Allow",
        Action: ["s3:GetObject"],
        Resource: ["arn:aws:s3:::awsserverlessrepo-changesets*", "arn:aws:s3:::secrets-manager-rotation-apps-*/*"],
      },
      {
        Sid: "CloudFormationTagOnCreate",
        Effect: "Allow",
        Action: ["cloudformation:TagResource", "cloudformation:UntagResource"],
        Resource: "*",
        Condition: { StringEquals: { "cloudformation:CreateAction": ["CreateChangeSet", "ExecuteChangeSet"] } },
      },
    ],
  ),
  define(
    "AWSSecretsManagerClientReadOnlyAccess",
    "Provides access to retrieve and describe secrets from Secrets Manager. This policy also allows decrypting KMS keys for Secrets Manager secrets.",
    "v4",
    "2025-11-05T20:04:00Z",
    "2026-06-02T20:42:00Z",
    [
      {
        Sid: "SecretsManagerGetAndDescribeSecret",
        Effect: "Allow",
        Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
        Resource: "arn:aws:secretsmanager:*:*:secret:*",
      },
      {
        Sid: "SecretsManagerBatchGetSecrets",
        Effect: "Allow",
        Action: ["secretsmanager:BatchGetSecretValue", "secretsmanager:ListSecrets"],
        Resource: "*",
      },
      {
        Sid: "KMSDecryptKey",
        Effect: "Allow",
        Action: ["kms:Decrypt"],
        Resource: "arn:aws:kms:*:*:key/*",
        Condition: {
          StringLike: {
            "kms:EncryptionContext:SecretARN": "arn:aws:secretsmanager:*:*:secret:*",
            "kms:ViaService": "secretsmanager.*.amazonaws.com",
          },
        },
      },
    ],
  ),
  define("AmazonSSMFullAccess", "Provides full access to Amazon SSM.", "v4", "2015-05-29T17:39:00Z", "2019-11-20T20:08:00Z", [
    {
      Effect: "Allow",
      Action: [
        "cloudwatch:PutMetricData",
        "ds:CreateComputer",
        "ds:DescribeDirectories",
        "ec2:DescribeInstanceStatus",
        "logs:*",
        "ssm:*",
        "ec2messages:*",
      ],
      Resource: "*",
    },
    {
      Effect: "Allow",
      Action: "iam:CreateServiceLinkedRole",
      Resource: "arn:aws:iam::*:role/aws-service-role/ssm.amazonaws.com/AWSServiceRoleForAmazonSSM*",
      Condition: { StringLike: { "iam:AWSServiceName": "ssm.amazonaws.com" } },
    },
    {
      Effect: "Allow",
      Action: ["iam:DeleteServiceLinkedRole", "iam:GetServiceLinkedRoleDeletionStatus"],
      Resource: "arn:aws:iam::*:role/aws-service-role/ssm.amazonaws.com/AWSServiceRoleForAmazonSSM*",
    },
    {
      Effect: "Allow",
      Action: ["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"],
      Resource: "*",
    },
  ]),
  define("AmazonSSMReadOnlyAccess", "Provides read only access to Amazon SSM.", "v1", "2015-05-29T17:44:00Z", "2015-05-29T17:44:00Z", [
    { Effect: "Allow", Action: ["ssm:Describe*", "ssm:Get*", "ssm:List*"], Resource: "*" },
  ]),
];

const byArn = new Map(policies.map((p) => [p.arn, p]));

/** The AWS managed policy with this ARN, if Coffer carries it. */
export function awsManagedPolicy(arn: string): AwsManagedPolicy | undefined {
  return byArn.get(arn);
}

/** Every AWS managed policy Coffer carries, by name. */
export function awsManagedPolicies(): readonly AwsManagedPolicy[] {
  return [...policies].sort((a, b) => (a.name < b.name ? -1 : 1));
}
