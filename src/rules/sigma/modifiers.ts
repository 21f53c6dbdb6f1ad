/**
 * The registry of Sigma value modifiers (appendix "Sigma Modifiers", v2.1) that authwatch
 * implements. Each entry says what kind of modifier it is; detection.ts checks combinations
 * at compile time, so a bad combination is a diagnostic, never a runtime surprise.
 */
export const modifierKinds = {
  // How a string value is matched: at most one.
  contains: 'position',
  startswith: 'position',
  endswith: 'position',
  // What the value is compared with, instead of string equality: at most one.
  re: 'operator',
  cidr: 'operator',
  exists: 'operator',
  fieldref: 'operator',
  lt: 'operator',
  lte: 'operator',
  gt: 'operator',
  gte: 'operator',
  // Sub-modifiers of `re`.
  i: 'regex_flag',
  m: 'regex_flag',
  s: 'regex_flag',
  // Value transformations, applied in the order written.
  base64: 'transform',
  base64offset: 'transform',
  utf16le: 'transform',
  utf16be: 'transform',
  utf16: 'transform',
  wide: 'transform',
  windash: 'transform',
  expand: 'transform',
  // Flags that change how matches combine.
  all: 'flag',
  cased: 'flag',
  neq: 'flag',
  // Time modifiers: the field is read as a time and this part of it (UTC) is compared.
  minute: 'time',
  hour: 'time',
  day: 'time',
  week: 'time',
  month: 'time',
  year: 'time',
} as const;

export type Modifier = keyof typeof modifierKinds;
export type ModifierKind = (typeof modifierKinds)[Modifier];

export function isModifier(name: string): name is Modifier {
  return Object.hasOwn(modifierKinds, name);
}

export const MODIFIER_NAMES: readonly Modifier[] = Object.keys(modifierKinds) as Modifier[];
