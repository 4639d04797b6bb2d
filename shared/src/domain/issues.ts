import type { z } from 'zod';

/**
 * THE zod issue formatter: `path: message; …`, at most five issues, on one line. It names paths and rules only,
 * never input values (zod's messages state what was expected, not what was received), so its text is safe in a log
 * line, an error message or a quarantine detail. Every boundary that validates with zod (the transform's record
 * schema, the claim schema, the HTTP API) formats its issues with it.
 */
export const describeIssues = (error: Pick<z.ZodError, 'issues'>): string =>
  error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
