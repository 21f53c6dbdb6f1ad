import { tooLong } from '../time/duration.js';

/**
 * The formats authwatch's schemas use (rules and configuration), for ajv and for the checks
 * compiled ahead (ruleChecks.generated.ts).
 */
export const ruleFormats = {
  /** A duration whose text is not absurdly long (the pattern itself is in the schema). */
  'bounded-duration': { type: 'string' as const, validate: (s: string) => !tooLong(s) },
};
