import type { Severity } from './diagnostics.js';

/**
 * Every diagnostic code authwatch emits. Codes are stable: a code keeps its meaning forever,
 * a retired code is never reused. docs/diagnostics.md explains each; a test fails when a
 * code here has no section there.
 */
export const diagnosticCodes = {
  // Files and documents
  AW1001: { severity: 'error', title: 'YAML syntax error' },
  AW1002: { severity: 'error', title: 'file cannot be read' },
  AW1003: { severity: 'error', title: 'document is not a mapping' },
  AW1004: { severity: 'error', title: 'document is neither a rule, a correlation nor a filter' },
  AW1005: { severity: 'error', title: 'authwatch failed while compiling a rule' },
  // Rule attributes
  AW1101: { severity: 'error', title: 'required attribute missing' },
  AW1102: { severity: 'error', title: 'attribute has the wrong type' },
  AW1103: { severity: 'warning', title: 'id is not a UUID' },
  AW1104: { severity: 'error', title: 'duplicate rule id' },
  AW1105: { severity: 'error', title: 'duplicate rule name in one file' },
  AW1106: { severity: 'error', title: 'invalid level' },
  AW1107: { severity: 'warning', title: 'invalid status' },
  AW1108: { severity: 'warning', title: 'malformed tag' },
  AW1109: { severity: 'warning', title: 'malformed date' },
  AW1110: { severity: 'warning', title: 'unknown attribute close to a known one' },
  AW1111: { severity: 'warning', title: 'duplicate rule without an id' },
  AW1112: { severity: 'warning', title: 'logsource names a product authwatch does not decode' },
  // Detection section
  AW1201: { severity: 'error', title: 'detection has no condition' },
  AW1202: { severity: 'error', title: 'empty search identifier' },
  AW1203: { severity: 'error', title: 'unknown modifier' },
  AW1204: { severity: 'error', title: 'modifiers cannot be combined' },
  AW1205: { severity: 'error', title: 'value does not fit its modifier' },
  AW1206: { severity: 'error', title: 'invalid regular expression' },
  AW1207: { severity: 'warning', title: 'regular expression needs backtracking' },
  AW1208: { severity: 'warning', title: '`all` modifier on a single value' },
  AW1209: { severity: 'error', title: 'search identifier has the wrong shape' },
  AW1210: { severity: 'error', title: 'placeholder has no values' },
  AW1211: { severity: 'error', title: 'invalid field path' },
  AW1212: { severity: 'warning', title: 'mapping used as a field value' },
  AW1213: { severity: 'warning', title: 'placeholder value not set' },
  AW1214: { severity: 'warning', title: 'field never present in the records the rule reads' },
  // Condition
  AW1301: { severity: 'error', title: 'condition syntax error' },
  AW1302: { severity: 'error', title: 'condition names an unknown search identifier' },
  AW1303: { severity: 'error', title: 'condition pattern matches no search identifier' },
  AW1304: { severity: 'error', title: 'aggregation in a condition' },
  AW1305: { severity: 'warning', title: 'search identifier not used by the condition' },
  AW1306: { severity: 'error', title: 'condition nests too deep' },
  // Correlations
  AW1401: { severity: 'error', title: 'unknown correlation type' },
  AW1402: { severity: 'error', title: 'correlation attribute missing' },
  AW1403: { severity: 'error', title: 'invalid timespan' },
  AW1404: { severity: 'error', title: 'invalid correlation condition' },
  AW1405: { severity: 'warning', title: 'rule reference not loaded' },
  AW1406: { severity: 'warning', title: 'correlation attribute ignored' },
  AW1407: { severity: 'error', title: 'value correlation without a field' },
  AW1408: { severity: 'error', title: 'invalid alias' },
  AW1409: { severity: 'error', title: 'correlation chain forms a cycle' },
  AW1410: { severity: 'error', title: 'ambiguous rule reference' },
  AW1411: { severity: 'warning', title: 'correlation disabled' },
  // Filters
  AW1501: { severity: 'error', title: 'invalid filter' },
  // authwatch extensions
  AW1601: { severity: 'error', title: 'invalid extension attribute' },
  AW1602: { severity: 'error', title: 'invalid inline test' },
  AW1603: { severity: 'error', title: 'invalid values file or override' },
  AW1604: { severity: 'warning', title: 'override names no loaded rule' },
} as const satisfies Record<string, { severity: Severity; title: string }>;

export type DiagnosticCode = keyof typeof diagnosticCodes;
