import { claims, row } from '@claims-cdc/shared/test-support/factories';
import { warehouseFromEnv } from '@claims-cdc/shared/warehouse/from-env';
import { merge } from '../src/handlers/merge';

const T = 1_732_000_000_000_000;

describe('merge handler', () => {
  it('merges what is staged and reports counts, backlog and the age of the oldest unmerged event', async () => {
    // Prepare: the handler and this test share the process's warehouse (DUCKDB_PATH=:memory:)
    const warehouse = await warehouseFromEnv();
    await warehouse.init();
    const [a, b] = claims(2, 3);
    await warehouse.stage([row({ eventName: 'INSERT', claim: a as never, micros: T, eventId: 'm1' }), row({ eventName: 'REMOVE', claim: b as never, micros: T, eventId: 'm2' })]);
    // Act
    const first = await merge();
    const second = await merge();
    // Assess
    expect(first).toMatchObject({ events: 2, claims: 2, inserted: 1, tombstonedOnly: 1, backlog: 0, oldestUnmergedAgeSeconds: 0 });
    expect(second).toMatchObject({ events: 0, backlog: 0 });
  });
});
