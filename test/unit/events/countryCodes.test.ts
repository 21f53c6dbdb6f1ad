import { describe, expect, it } from 'vitest';
import { countryCode } from '../../../src/events/countryCodes.js';

describe('countryCode', () => {
  it.each([
    ['United States', 'US'],
    ['United Kingdom', 'GB'],
    ['Germany', 'DE'],
    ['South Korea', 'KR'],
    ['Korea, Republic of', 'KR'],
    ['Russian Federation', 'RU'],
    ['Russia', 'RU'],
    ['Czechia', 'CZ'],
    ['Czech Republic', 'CZ'],
    ['Hong Kong', 'HK'],
    ['Côte d’Ivoire', 'CI'],
    ['  france ', 'FR'],
    ['us', 'US'],
    ['GB', 'GB'],
  ])('%j → %s', (name, code) => {
    expect(countryCode(name)).toBe(code);
  });

  it.each([undefined, '', 'Atlantis', 'Unknown Region', 'European Union'])('%j → undefined', (name) => {
    expect(countryCode(name)).toBeUndefined();
  });
});
