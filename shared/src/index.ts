/** The claims-cdc domain core and warehouse adapters. */
export * from './domain/claim';
export * from './domain/change-event';
export * from './domain/columns';
export * from './domain/errors';
export * from './domain/flatten';
export * from './domain/generator';
export * from './domain/merge-rules';
export * from './domain/prng';
export * from './domain/row-message';
export * from './warehouse/dialect';
export * from './warehouse/port';
export * from './warehouse/tables';
export * from './domain/change-record';
export * from './domain/quarantine';
export * from './domain/attribute-value';
export * from './domain/cell-rules';
export * from './domain/event-time';
