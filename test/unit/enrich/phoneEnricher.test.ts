import { describe, expect, it } from 'vitest';
import type { AuthEvent } from '../../../src/events/authEvent.js';
import { createPhoneEnricher, phoneCountry } from '../../../src/enrich/phoneEnricher.js';

describe('phoneCountry', () => {
  it.each([
    ['+14155552671', 'US'],
    ['+1 204 555 0100', 'CA'],
    ['+2348012345678', 'NG'],
    ['+79161234567', 'RU'],
    ['+447700900123', 'GB'], // a range of no single country: the calling code's main country
    ['+88216123456', undefined], // international networks have no country
  ])('%s → %s', (number, country) => {
    expect(phoneCountry(number)).toBe(country);
  });

  it.each(['', '4155552671', '+', 'call me', '+abc'])('%j → undefined', (number) => {
    expect(phoneCountry(number)).toBeUndefined();
  });
});

describe('createPhoneEnricher', () => {
  const base: AuthEvent = {
    id: '1',
    time: 1_767_000_000_000,
    source: 'generic',
    type: 'mfa.sms.sent',
    outcome: 'success',
  };

  it('fills phone.country from the number', () => {
    const e: AuthEvent = { ...base, phone: { number: '+2348012345678' } };
    createPhoneEnricher().enrich(e);
    expect(e.phone).toEqual({ number: '+2348012345678', country: 'NG' });
  });

  it('keeps a country the source gave, and leaves events without a number alone', () => {
    const given: AuthEvent = { ...base, phone: { number: '+2348012345678', country: 'GH' } };
    const none: AuthEvent = { ...base };
    createPhoneEnricher().enrich(given);
    createPhoneEnricher().enrich(none);
    expect(given.phone).toEqual({ number: '+2348012345678', country: 'GH' });
    expect(none.phone).toBeUndefined();
  });

  it('answers a number seen before as it did the first time, also one with no country, cached or not', () => {
    for (const size of [10_000, 1, 0]) {
      const enricher = createPhoneEnricher(size);
      for (let round = 0; round < 3; round++) {
        const ng: AuthEvent = { ...base, phone: { number: '+2348012345678' } };
        const bad: AuthEvent = { ...base, phone: { number: '+999' } };
        const gb: AuthEvent = { ...base, phone: { number: '+447700900123' } };
        for (const e of [ng, bad, gb]) enricher.enrich(e);
        expect([ng.phone?.country, bad.phone?.country, gb.phone?.country]).toEqual(['NG', undefined, 'GB']);
      }
    }
  });
});
