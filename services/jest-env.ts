/** Environment the service modules read at load, for unit tests (no network: AWS clients are mocked). */
Object.assign(process.env, {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  CLAIMS_TABLE_NAME: 'InsuranceClaims',
  LOAD_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/claims-cdc-load',
  QUARANTINE_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/claims-cdc-quarantine',
  WAREHOUSE: 'duckdb',
  DUCKDB_PATH: ':memory:',
  POWERTOOLS_TRACE_ENABLED: 'false',
  POWERTOOLS_METRICS_DISABLED: 'true',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
});
