/**
 * PHI values of generated claims, for tests that prove PHI never reaches a log line, an error message or a metric.
 * The PHI attributes come from the column registry (`PHI_IMAGE_PATHS`), so a new PHI column is covered without
 * touching the tests.
 */
import type { Claim } from '../src/domain/claim';
import { PHI_IMAGE_PATHS } from '../src/domain/columns';

/** One PHI value and the attribute it came from. */
export interface PhiValue {
  readonly path: string;
  readonly value: string;
}

/**
 * City and zip are PHI columns too, but their generated values (a few dozen US cities, 5-digit numbers) also occur
 * as non-PHI data (provider addresses) and as ordinary counts, so a search for them proves nothing either way.
 */
const TOO_GENERIC = new Set(['patient.city', 'patient.zip']);

const at = (claim: Claim, path: readonly string[]): unknown =>
  path.reduce<unknown>((node, key) => (node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), claim);

/** The distinct PHI values of `claims`: names, emails, phones, birth dates, streets, member ids. */
export const phiValues = (claims: readonly Claim[]): PhiValue[] => {
  const seen = new Map<string, PhiValue>();
  for (const claim of claims) {
    for (const path of PHI_IMAGE_PATHS) {
      const name = path.join('.');
      if (TOO_GENERIC.has(name)) continue;
      const value = at(claim, path);
      if (typeof value === 'string' && value !== '' && !seen.has(value)) seen.set(value, { path: name, value });
    }
  }
  return [...seen.values()];
};

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A finder for PHI values in text. Names are matched as whole words (a first name like "Mia" must not match
 * "Miami"); the other values are specific enough to match as substrings.
 */
export const phiFinder = (values: readonly PhiValue[]): ((text: string) => PhiValue[]) => {
  const names = values.filter((v) => v.path.endsWith('_name'));
  const others = values.filter((v) => !v.path.endsWith('_name'));
  const wordPattern = names.length > 0 ? new RegExp(`\\b(?:${names.map((v) => escape(v.value)).join('|')})\\b`, 'g') : undefined;
  const byName = new Map(names.map((v) => [v.value, v]));
  return (text) => {
    const found: PhiValue[] = others.filter((v) => text.includes(v.value));
    for (const match of wordPattern ? text.matchAll(wordPattern) : []) found.push(byName.get(match[0]) as PhiValue);
    return found;
  };
};
