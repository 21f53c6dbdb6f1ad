/**
 * Country names (as Okta's geographicalContext and other sources write them) to ISO 3166-1
 * alpha-2 codes. The names come from the ICU data Node ships (Intl.DisplayNames), so no
 * table is kept here, plus the older official names some sources still use.
 */
const ALIASES: Record<string, string> = {
  'czech republic': 'CZ',
  'korea, republic of': 'KR',
  'republic of korea': 'KR',
  'korea, democratic people’s republic of': 'KP',
  'russian federation': 'RU',
  'viet nam': 'VN',
  'iran, islamic republic of': 'IR',
  'hong kong': 'HK',
  macao: 'MO',
  macau: 'MO',
  myanmar: 'MM',
  burma: 'MM',
  'taiwan, province of china': 'TW',
  palestine: 'PS',
  'state of palestine': 'PS',
  'united states of america': 'US',
  usa: 'US',
  uk: 'GB',
  'great britain': 'GB',
  'syrian arab republic': 'SY',
  'lao people’s democratic republic': 'LA',
  'moldova, republic of': 'MD',
  'tanzania, united republic of': 'TZ',
  'bolivia, plurinational state of': 'BO',
  'venezuela, bolivarian republic of': 'VE',
  'ivory coast': 'CI',
  "cote d'ivoire": 'CI',
  turkey: 'TR',
  swaziland: 'SZ',
  'cape verde': 'CV',
  macedonia: 'MK',
  'the netherlands': 'NL',
};

/** Codes ICU names that are no current ISO 3166-1 country: withdrawn, reserved or groupings. */
const NOT_COUNTRIES = new Set('AN BU CS DD DY EU EZ FX HV NH NT QO QU RH SU TP UK UN VD XA XB YD YU ZR ZZ'.split(' '));

let byName: Map<string, string> | undefined;
let codes: Set<string> | undefined;

function names(): Map<string, string> {
  if (byName) return byName;
  byName = new Map(Object.entries(ALIASES));
  const styles = [
    new Intl.DisplayNames(['en'], { type: 'region' }),
    new Intl.DisplayNames(['en'], { type: 'region', style: 'short' }),
  ];
  for (let a = 65; a <= 90; a++) {
    for (let b = 65; b <= 90; b++) {
      const code = String.fromCharCode(a, b);
      if (NOT_COUNTRIES.has(code)) continue;
      for (const style of styles) {
        const name = style.of(code);
        if (name && name !== code && !byName.has(name.toLowerCase())) byName.set(name.toLowerCase(), code);
      }
    }
  }
  return byName;
}

/** Whether `code` is an assigned ISO 3166-1 alpha-2 code in upper case (`XX`, `ZZ`, `EU` are not). */
export function isCountryCode(code: string): boolean {
  codes ??= new Set(names().values());
  return codes.has(code);
}

/** `US` for `United States`, `us` or `US`; undefined when the text names no country. */
export function countryCode(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const t = text.trim();
  if (/^[A-Za-z]{2}$/.test(t)) return t.toUpperCase();
  return names().get(t.toLowerCase().replace(/'/g, '’')) ?? names().get(t.toLowerCase());
}
