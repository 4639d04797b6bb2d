/**
 * One partition-key formula for every local writer of change records (capture, re-drive, chaos, bench): a claim's
 * records land on one shard, in order, whoever put them.
 */
import { createHash } from 'node:crypto';
import { changePartitionKey, claimPartitionKey, itemIdentity, partitionKeyOfIdentity } from '../src/stack/partition-key';

describe('partition key', () => {
  it('is the upper-case MD5 of table, NUL and the canonical key', () => {
    // Act
    const key = changePartitionKey('InsuranceClaims', { claim_id: { S: 'CLM-1' } });
    // Assess
    expect(key).toBe(createHash('md5').update('InsuranceClaims\u0000{"claim_id":{"S":"CLM-1"}}').digest('hex').toUpperCase());
    expect(key).toMatch(/^[0-9A-F]{32}$/);
  });

  it('gives a claim id the key the capture gives its item', () => {
    // Assess
    expect(claimPartitionKey('InsuranceClaims', 'CLM-1')).toBe(changePartitionKey('InsuranceClaims', { claim_id: { S: 'CLM-1' } }));
    expect(partitionKeyOfIdentity(itemIdentity('InsuranceClaims', { claim_id: { S: 'CLM-1' } }))).toBe(claimPartitionKey('InsuranceClaims', 'CLM-1'));
  });

  it.each([
    ['attribute order', { a: { S: '1' }, b: { N: '2' } }, { b: { N: '2' }, a: { S: '1' } }, true],
    ['another value', { a: { S: '1' } }, { a: { S: '2' } }, false],
    ['another type', { a: { S: '1' } }, { a: { N: '1' } }, false],
  ])('depends on the key, not on %s alone', (_case, left, right, same) => {
    // Assess
    expect(changePartitionKey('T', left) === changePartitionKey('T', right)).toBe(same);
  });

  it('differs between tables for one key', () => {
    // Assess
    expect(changePartitionKey('A', { id: { S: 'x' } })).not.toBe(changePartitionKey('B', { id: { S: 'x' } }));
  });
});
