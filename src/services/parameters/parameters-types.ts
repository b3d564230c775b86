import type { ParameterTier, ParameterType, Tag } from "../../storage/store.ts";
import type { SecretVersionValue } from "../secrets/secrets-types.ts";

export type { ParameterTier, ParameterType, Tag };

/** The tier a caller may ask for; Intelligent-Tiering resolves to Standard or Advanced. */
export type RequestedTier = ParameterTier | "Intelligent-Tiering";

/** Versions kept per parameter, as on AWS. */
export const MAX_VERSIONS = 100;
export const MAX_LABELS_PER_VERSION = 10;
export const MAX_TAGS = 50;
export const MAX_POLICIES = 10;
/** Value size limits in bytes (UTF-8). */
export const STANDARD_VALUE_LIMIT = 4096;
export const ADVANCED_VALUE_LIMIT = 8192;
/** A name's ARN may be this long at most ("1011 characters, including the ARN prefix"). */
export const MAX_ARN_LENGTH = 1011;
export const MAX_HIERARCHY_LEVELS = 15;
/** Secrets Manager secrets read through Parameter Store. */
export const REFERENCE_PREFIX = "/aws/reference/secretsmanager/";
export const DEFAULT_DATA_TYPE = "text";

export interface PutParameterInput {
  name: string;
  value: string;
  type?: ParameterType;
  description?: string;
  keyId?: string;
  overwrite?: boolean;
  allowedPattern?: string;
  tags?: Tag[];
  tier?: RequestedTier;
  /** A JSON array of policies, as the caller wrote it. */
  policies?: string;
  dataType?: string;
}

/** A parameter value as GetParameter and friends return it. */
export interface ParameterValue {
  name: string;
  arn: string;
  type: ParameterType;
  value: string;
  version: number;
  /** ":<version>" or ":<label>" when the caller named one. */
  selector?: string;
  /** For /aws/reference/secretsmanager/...: the secret version read (the API returns it as SourceResult). */
  source?: SecretVersionValue;
  lastModifiedAt: number;
  dataType: string;
}

export interface InlinePolicy {
  text: string;
  type: string;
  status?: string;
}

export interface ParameterDescription {
  name: string;
  arn: string;
  type: ParameterType;
  keyId?: string;
  lastModifiedAt: number;
  lastModifiedUser: string;
  description?: string;
  allowedPattern?: string;
  version: number;
  tier: ParameterTier;
  policies: InlinePolicy[];
  dataType: string;
}

export interface ParameterHistoryEntry extends ParameterDescription {
  value: string;
  labels: string[];
}

export interface ParameterFilter {
  key: string;
  option?: string;
  values?: string[];
}

export interface GetByPathInput {
  path: string;
  recursive?: boolean;
  filters?: ParameterFilter[];
  withDecryption?: boolean;
  maxResults?: number;
  nextToken?: string;
}

export interface DescribeInput {
  filters?: ParameterFilter[];
  maxResults?: number;
  nextToken?: string;
  shared?: boolean;
}

export interface HistoryInput {
  name: string;
  withDecryption?: boolean;
  maxResults?: number;
  nextToken?: string;
}

export interface TagTarget {
  resourceType: string;
  resourceId: string;
}

export interface Page<T> {
  items: T[];
  nextToken?: string;
}
