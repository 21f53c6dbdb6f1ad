import { parsePhoneNumberFromString } from 'libphonenumber-js/min';
import metadata from 'libphonenumber-js/min/metadata';
import type { AuthEvent } from '../events/authEvent.js';
import type { Enricher } from './enricher.js';

const callingCodes = (metadata as { country_calling_codes: Record<string, string[]> }).country_calling_codes;

/**
 * The country of a phone number in international form (`+447…` → GB), or undefined. A number
 * whose range belongs to no single country (unassigned, premium or shared ranges, which SMS
 * pumping favours) gets the main country of its calling code: +44 is GB, +1 is US.
 */
export function phoneCountry(number: string): string | undefined {
  if (typeof number !== 'string' || !number.startsWith('+')) return undefined;
  const parsed = parsePhoneNumberFromString(number);
  if (!parsed) return undefined;
  return parsed.country ?? callingCodes[parsed.countryCallingCode]?.[0];
}

/** Fills `phone.country` from `phone.number` (libphonenumber-js's metadata, shipped with it). */
export function createPhoneEnricher(): Enricher {
  return {
    name: 'phone',
    enrich(event: AuthEvent) {
      const phone = event.phone;
      if (!phone?.number || phone.country) return;
      const country = phoneCountry(phone.number);
      if (country) phone.country = country;
    },
  };
}
