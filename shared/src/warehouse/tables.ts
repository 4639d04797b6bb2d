/** The quickstart's table names (kept so its verification queries run unchanged) and ours. */
export const TABLES = {
  destination: 'openflow_insclaim_dest_tbl',
  staging: 'openflow_insclaim_cdc_tbl',
  history: 'openflow_insclaim_event_hist_tbl',
  tombstones: 'openflow_insclaim_tombstone_tbl',
} as const;

/** The staging table's extra column: which merge run has claimed the row (NULL while unclaimed). */
export const MERGE_RUN_COLUMN = 'mergeRunId';
