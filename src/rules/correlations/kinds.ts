import type { CorrelationType } from '../model.js';

/**
 * What the loader needs to know about one correlation type: which attributes it takes and
 * the JSON Schema of its type-specific parameters (authwatch's extension types). The
 * registry in registry.ts is a record over every CorrelationType, so a new type does not
 * compile until it is described here.
 */
export interface CorrelationKindSpec {
  type: CorrelationType;
  /** One line for `validate` hints and the docs. */
  summary: string;
  /** Whether `condition` is required; when optional, `defaultCondition` applies. */
  condition: 'required' | 'optional' | 'none';
  /** The `field` attribute: required (value_* types), optional, or ignored with a warning. */
  field: 'required' | 'optional' | 'ignored';
  /** Whether `group-by` is required by the Sigma specification for this type. */
  groupBy: 'required' | 'optional';
  /** JSON Schema of the extra keys allowed inside `correlation:` (extension types only). */
  params?: { type: 'object'; properties: Record<string, unknown>; required?: string[] };
}
