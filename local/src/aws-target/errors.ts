/** A deployed stage could not be read or changed: its resources, its API or its warehouse. One line, no claim values. */
export class AwsTargetError extends Error {
  override readonly name = 'AwsTargetError';
}
