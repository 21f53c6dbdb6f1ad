import type { Span } from './diagnostics.js';

export type Level = 'informational' | 'low' | 'medium' | 'high' | 'critical';
export const LEVELS: readonly Level[] = ['informational', 'low', 'medium', 'high', 'critical'];

/**
 * What a rule's field paths resolve against: the canonical event, or the raw record of one
 * source (a rule whose `logsource.product` is `auth0` reads Auth0's own fields, `data.type`).
 */
export type RuleTarget = 'canonical' | 'auth0' | 'okta';
export const SOURCE_TARGETS: readonly RuleTarget[] = ['auth0', 'okta'];
/** The field the rule index keys on, per target. */
export const TYPE_FIELDS: Readonly<Record<RuleTarget, string>> = {
  canonical: 'type',
  auth0: 'data.type',
  okta: 'eventType',
};

/** A record a compiled predicate reads: the canonical event or a source's raw record. */
export type Doc = Readonly<Record<string, unknown>>;
export type Predicate = (doc: Doc) => boolean;

export type ResponseAction =
  | 'revoke_sessions'
  | 'revoke_refresh_tokens'
  | 'block_user'
  | 'block_ip'
  | 'require_mfa'
  | 'notify'
  | 'throttle'
  | 'force_password_reset'
  | 'challenge'
  | 'notify_user'
  | 'deny_factor'
  | 'tighten_protection';

/** The second factors `deny_factor` can refuse. */
export type Factor = 'sms' | 'voice' | 'email' | 'push' | 'otp' | 'webauthn';

export interface ResponseSpec {
  action: ResponseAction;
  target?: 'user' | 'ip' | 'session' | 'device' | 'client' | 'phone';
  duration?: string;
  channel?: string;
  reason?: string;
  /** deny_factor: which factor to refuse (e.g. SMS to a pumped destination). */
  factor?: Factor;
}

export interface TestCase {
  name: string;
  events: Record<string, unknown>[];
  expect: 'fire' | 'not_fire' | number;
  /** Placeholder values for this case, as a values file would set them. */
  placeholders?: Record<string, string[]>;
  span: Span;
}

/** authwatch's own attributes on a rule (schemas/rule-extensions.schema.json). */
export interface Extensions {
  response: ResponseSpec[];
  suppress?: { timespanMs: number; groupBy?: string[] };
  mode: 'monitor' | 'enforce';
  tests: TestCase[];
}

/** What every rule kind shares. */
export interface RuleBase {
  /** Unique within a rule set: the rule's id, or one derived from its content when it has none. */
  uid: string;
  id?: string;
  name?: string;
  title: string;
  description?: string;
  level: Level;
  status?: string;
  tags: string[];
  file: string;
  /** 0-based index of the YAML document in its file. */
  document: number;
  span: Span;
  extensions: Extensions;
}

export interface DetectionRule extends RuleBase {
  kind: 'detection';
  target: RuleTarget;
  logsource: Record<string, string>;
  predicate: Predicate;
  /**
   * Values of the target's type field (lower-cased) that an event must carry to possibly
   * match, or null when the rule can match any type. The rule index is built from this.
   */
  typeValues: ReadonlySet<string> | null;
  /** Filters (Sigma filter rules) that exclude events from this rule. */
  filters: FilterRule[];
}

export interface FilterRule {
  kind: 'filter';
  uid: string;
  id?: string;
  title: string;
  file: string;
  span: Span;
  target: RuleTarget;
  predicate: Predicate;
  /** Rule ids or names the filter applies to. */
  ruleRefs: string[];
}

export type CountOperator = 'gt' | 'gte' | 'lt' | 'lte' | 'eq' | 'neq';
/** The correlation condition: all given bounds must hold (a range is `gt` and `lte`). */
export type CountCondition = Partial<Record<CountOperator, number>>;

export const SIGMA_CORRELATION_TYPES = [
  'event_count',
  'value_count',
  'temporal',
  'temporal_ordered',
  'value_sum',
  'value_avg',
  'value_percentile',
] as const;
export const EXTENSION_CORRELATION_TYPES = [
  'impossible_travel',
  'value_change',
  'new_value',
  'dormant_account',
  'conversion',
] as const;
export type CorrelationType = (typeof SIGMA_CORRELATION_TYPES)[number] | (typeof EXTENSION_CORRELATION_TYPES)[number];

export interface CorrelationRule extends RuleBase {
  kind: 'correlation';
  type: CorrelationType;
  /** The referenced rules' uids, in the order written (temporal_ordered depends on it). */
  rules: string[];
  groupBy: string[];
  /** alias → (rule uid → field) */
  aliases: Record<string, Record<string, string>>;
  timespanMs: number;
  condition: CountCondition;
  /** The field of value_* correlations and of the extension types that watch one value. */
  field?: string[];
  /** Whether the referenced rules also fire on their own. */
  generate: boolean;
  /** Type-specific parameters of the extension types, validated by their schema. */
  params: Record<string, unknown>;
}

export type Rule = DetectionRule | CorrelationRule;
