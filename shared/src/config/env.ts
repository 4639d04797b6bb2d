import { ConfigurationError } from '../domain/errors';

/**
 * Reads the named environment variables once, at load, and fails fast with one message naming every missing one.
 */
export const requireEnv = <const K extends string>(names: readonly K[], env: NodeJS.ProcessEnv = process.env): Record<K, string> => {
  const missing = names.filter((name) => !env[name]);
  if (missing.length > 0) throw new ConfigurationError(`missing environment variable${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`);
  return Object.fromEntries(names.map((name) => [name, env[name] as string])) as Record<K, string>;
};

/** A positive integer from the environment, or its default. */
export const intEnv = (name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number => {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new ConfigurationError(`${name} must be a positive integer`);
  return value;
};
