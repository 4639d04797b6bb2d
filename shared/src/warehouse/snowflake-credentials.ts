import { createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { z } from 'zod';
import { ConfigurationError } from '../domain/errors';

/** The key pair the Snowflake user authenticates with (its public half is set on the user: `RSA_PUBLIC_KEY`). */
export interface SnowflakeKeyPair {
  /** PKCS#8 PEM, normally encrypted (`-----BEGIN ENCRYPTED PRIVATE KEY-----`). */
  readonly privateKey: string;
  /** Passphrase of an encrypted key. */
  readonly passphrase?: string;
}

/** Where the key pair comes from: Secrets Manager in the cloud, a file on a developer's machine. */
export type SnowflakeKeySource =
  | { readonly kind: 'secrets-manager'; readonly secretId: string }
  | { readonly kind: 'file'; readonly path: string; readonly passphrase?: string };

/** The secret's JSON: `{"privateKey": "-----BEGIN ENCRYPTED PRIVATE KEY-----\n...", "passphrase": "..."}`. */
export const SnowflakeSecretSchema = z.object({
  privateKey: z.string().min(1),
  passphrase: z.string().optional(),
});

/** Fails fast, without ever echoing key material, when the key is not a PEM private key or the passphrase is wrong. */
const checked = (keyPair: SnowflakeKeyPair, where: string): SnowflakeKeyPair => {
  if (!/-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(keyPair.privateKey)) {
    throw new ConfigurationError(`Snowflake private key from ${where} is not a PKCS#8 PEM key (expected "-----BEGIN ENCRYPTED PRIVATE KEY-----")`);
  }
  try {
    createPrivateKey({ key: keyPair.privateKey, format: 'pem', ...(keyPair.passphrase === undefined ? {} : { passphrase: keyPair.passphrase }) });
  } catch {
    throw new ConfigurationError(`Snowflake private key from ${where} cannot be read: wrong or missing passphrase, or a damaged key`);
  }
  return keyPair;
};

/**
 * Loads the key pair. Secrets Manager goes through Powertools `getSecret` (cached for its default 5 s, so a
 * reconnect after a key rotation picks the new key up); the secret must hold the JSON of {@link SnowflakeSecretSchema}.
 */
export const loadSnowflakeKeyPair = async (source: SnowflakeKeySource): Promise<SnowflakeKeyPair> => {
  if (source.kind === 'file') {
    let privateKey: string;
    try {
      privateKey = await readFile(source.path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
      throw new ConfigurationError(`cannot read Snowflake private key file ${source.path} (SNOWFLAKE_PRIVATE_KEY_PATH): ${code}`);
    }
    return checked({ privateKey, ...(source.passphrase === undefined ? {} : { passphrase: source.passphrase }) }, `file ${source.path}`);
  }
  let value: unknown;
  try {
    value = await getSecret(source.secretId, { transform: 'json' });
  } catch (error) {
    // Powertools/SDK messages name the secret and the failure (access denied, not found, not JSON), never its value.
    const reason = error instanceof Error ? `${error.name}: ${error.message.split('\n')[0]}` : 'unknown error';
    throw new ConfigurationError(`cannot read Snowflake key secret ${source.secretId} (SNOWFLAKE_SECRET_ARN): ${reason}`);
  }
  const parsed = SnowflakeSecretSchema.safeParse(value);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => issue.path.join('.') || '(root)').join(', ');
    throw new ConfigurationError(`Snowflake key secret ${source.secretId} must be JSON {"privateKey": "<PEM>", "passphrase": "<text>"}; problem with: ${fields}`);
  }
  return checked(parsed.data, `secret ${source.secretId}`);
};
