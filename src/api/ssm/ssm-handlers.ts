import type { ApiService, Handler } from "../api-service.ts";
import { CofferError } from "../../shared/errors.ts";
import type { ParametersService } from "../../services/parameters/parameters-service.ts";
import type {
  InlinePolicy,
  ParameterDescription,
  ParameterFilter,
  ParameterValue,
  Tag,
} from "../../services/parameters/parameters-types.ts";
import type { SecretVersionValue } from "../../services/secrets/secrets-types.ts";
import { secretValueOut } from "../secretsmanager/secretsmanager-handlers.ts";
import { metadata, operations } from "./generated/operations.ts";
import { shapes } from "./generated/shapes.ts";
import type * as T from "./generated/types.ts";
import { ssmError } from "./ssm-errors.ts";

/**
 * The Parameter Store part of the Systems Manager API (awsJson 1.1,
 * X-Amz-Target AmazonSSM.*): maps AWS operation and field names to the
 * parameters service and shapes its results. Only this module knows
 * ParameterFilters, WithDecryption and friends.
 */

const tagsIn = (tags: T.Tag[] | undefined): Tag[] | undefined => tags?.map((t) => ({ key: t.Key, value: t.Value }));

const filtersIn = (filters: T.ParameterStringFilter[] | undefined): ParameterFilter[] | undefined =>
  filters?.map((f) => ({ key: f.Key, option: f.Option, values: f.Values }));

/** The deprecated Filters of DescribeParameters: Name, Type or KeyId, each an Equals filter. */
function legacyFiltersIn(filters: T.ParametersFilter[] | undefined): ParameterFilter[] {
  return (filters ?? []).map((f) => ({ key: f.Key, option: "Equals", values: f.Values }));
}

const policiesOut = (policies: InlinePolicy[]): T.ParameterInlinePolicy[] =>
  policies.map((p) => ({ PolicyText: p.text, PolicyType: p.type, PolicyStatus: p.status }));

/** GetSecretValue's answer as its JSON wire text, which is what SourceResult carries. */
const sourceResult = (s: SecretVersionValue): string => {
  // Written here rather than by the server's codec: the API layer does not import the server.
  const out = secretValueOut(s);
  return JSON.stringify({
    ...out,
    CreatedDate: out.CreatedDate && out.CreatedDate.getTime() / 1000,
    SecretBinary: out.SecretBinary && Buffer.from(out.SecretBinary).toString("base64"),
  });
};

function parameterOut(v: ParameterValue): T.Parameter {
  const out: T.Parameter = {
    Name: v.name,
    Type: v.type,
    Value: v.value,
    Version: v.version,
    LastModifiedDate: new Date(v.lastModifiedAt),
    ARN: v.arn,
    DataType: v.dataType,
  };
  if (v.selector !== undefined) out.Selector = v.selector;
  if (v.source) out.SourceResult = sourceResult(v.source);
  return out;
}

function metadataOut(d: ParameterDescription): T.ParameterMetadata {
  return {
    Name: d.name,
    ARN: d.arn,
    Type: d.type,
    KeyId: d.keyId,
    LastModifiedDate: new Date(d.lastModifiedAt),
    LastModifiedUser: d.lastModifiedUser,
    Description: d.description,
    AllowedPattern: d.allowedPattern,
    Version: d.version,
    Tier: d.tier,
    Policies: policiesOut(d.policies),
    DataType: d.dataType,
  };
}

export function ssmApi(parameters: ParametersService): ApiService {
  const handlers: Record<string, Handler> = {
    async PutParameter(p, i: T.PutParameterRequest): Promise<T.PutParameterResult> {
      const r = await parameters.put(p, {
        name: i.Name,
        value: i.Value,
        type: i.Type,
        description: i.Description,
        keyId: i.KeyId,
        overwrite: i.Overwrite,
        allowedPattern: i.AllowedPattern,
        tags: tagsIn(i.Tags),
        tier: i.Tier,
        policies: i.Policies,
        dataType: i.DataType,
      });
      return { Version: r.version, Tier: r.tier };
    },

    async GetParameter(p, i: T.GetParameterRequest): Promise<T.GetParameterResult> {
      return { Parameter: parameterOut(await parameters.get(p, { name: i.Name, withDecryption: i.WithDecryption })) };
    },

    async GetParameters(p, i: T.GetParametersRequest): Promise<T.GetParametersResult> {
      const r = await parameters.getMany(p, { names: i.Names, withDecryption: i.WithDecryption });
      return { Parameters: r.parameters.map(parameterOut), InvalidParameters: r.invalid };
    },

    async GetParametersByPath(p, i: T.GetParametersByPathRequest): Promise<T.GetParametersByPathResult> {
      const page = await parameters.getByPath(p, {
        path: i.Path,
        recursive: i.Recursive,
        filters: filtersIn(i.ParameterFilters),
        withDecryption: i.WithDecryption,
        maxResults: i.MaxResults,
        nextToken: i.NextToken,
      });
      return { Parameters: page.items.map(parameterOut), NextToken: page.nextToken };
    },

    async DescribeParameters(p, i: T.DescribeParametersRequest): Promise<T.DescribeParametersResult> {
      if (i.Filters?.length && i.ParameterFilters?.length) {
        throw new CofferError("Validation", "You can use either Filters or ParameterFilters in a single request, not both.");
      }
      const page = await parameters.describe(p, {
        filters: i.ParameterFilters ? filtersIn(i.ParameterFilters) : legacyFiltersIn(i.Filters),
        maxResults: i.MaxResults,
        nextToken: i.NextToken,
        shared: i.Shared,
      });
      return { Parameters: page.items.map(metadataOut), NextToken: page.nextToken };
    },

    async GetParameterHistory(p, i: T.GetParameterHistoryRequest): Promise<T.GetParameterHistoryResult> {
      const page = await parameters.history(p, {
        name: i.Name,
        withDecryption: i.WithDecryption,
        maxResults: i.MaxResults,
        nextToken: i.NextToken,
      });
      return {
        Parameters: page.items.map((h) => ({
          Name: h.name,
          Type: h.type,
          KeyId: h.keyId,
          LastModifiedDate: new Date(h.lastModifiedAt),
          LastModifiedUser: h.lastModifiedUser,
          Description: h.description,
          Value: h.value,
          AllowedPattern: h.allowedPattern,
          Version: h.version,
          Labels: h.labels,
          Tier: h.tier,
          Policies: policiesOut(h.policies),
          DataType: h.dataType,
        })),
        NextToken: page.nextToken,
      };
    },

    async DeleteParameter(p, i: T.DeleteParameterRequest): Promise<T.DeleteParameterResult> {
      await parameters.delete(p, { name: i.Name });
      return {};
    },

    async DeleteParameters(p, i: T.DeleteParametersRequest): Promise<T.DeleteParametersResult> {
      const r = await parameters.deleteMany(p, { names: i.Names });
      return { DeletedParameters: r.deleted, InvalidParameters: r.invalid };
    },

    async LabelParameterVersion(p, i: T.LabelParameterVersionRequest): Promise<T.LabelParameterVersionResult> {
      const r = await parameters.label(p, { name: i.Name, version: i.ParameterVersion, labels: i.Labels });
      return { InvalidLabels: r.invalidLabels, ParameterVersion: r.version };
    },

    async UnlabelParameterVersion(p, i: T.UnlabelParameterVersionRequest): Promise<T.UnlabelParameterVersionResult> {
      const r = await parameters.unlabel(p, { name: i.Name, version: i.ParameterVersion, labels: i.Labels });
      return { RemovedLabels: r.removedLabels, InvalidLabels: r.invalidLabels };
    },

    async AddTagsToResource(p, i: T.AddTagsToResourceRequest): Promise<T.AddTagsToResourceResult> {
      await parameters.addTags(p, { resourceType: i.ResourceType, resourceId: i.ResourceId, tags: tagsIn(i.Tags) ?? [] });
      return {};
    },

    async ListTagsForResource(p, i: T.ListTagsForResourceRequest): Promise<T.ListTagsForResourceResult> {
      const tags = await parameters.listTags(p, { resourceType: i.ResourceType, resourceId: i.ResourceId });
      return { TagList: tags.map((t) => ({ Key: t.key, Value: t.value })) };
    },

    async RemoveTagsFromResource(p, i: T.RemoveTagsFromResourceRequest): Promise<T.RemoveTagsFromResourceResult> {
      await parameters.removeTags(p, { resourceType: i.ResourceType, resourceId: i.ResourceId, tagKeys: i.TagKeys });
      return {};
    },
  };
  return { metadata, shapes, operations, handlers, errorFor: ssmError };
}
