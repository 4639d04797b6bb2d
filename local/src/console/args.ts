import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors';

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs, with its errors turned into one-line usage errors. */
export const parse = <O extends Options>(args: readonly string[], options: O, help: string) => {
  try {
    return parseArgs({ args: [...args], options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split('\n')[0]} (see --help)\n${help}`);
  }
};

/** A positive integer option. */
export const positiveInt = (value: string | boolean | undefined, name: string, fallback: number): number => {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive integer, got '${String(value)}'`);
  return n;
};

/** A positive integer positional argument. */
export const positiveIntArgument = (value: string, name: string): number => {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${name} must be a positive integer, got '${value}'`);
  return n;
};
