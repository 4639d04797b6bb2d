/** The CLI's output helpers: tables that fit a terminal, and a live status line that does not flood a log. */
import { LiveLine } from '../src/console/live-line';
import { fittedTable } from '../src/console/output';

describe('fittedTable', () => {
  const rows = Array.from({ length: 4 }, (_, i) => ({ claimId: `CLM-0000000${i}`, status: 'In Review', note: 'x'.repeat(50), n: i }));

  it('shows the leading columns that fit and says how many were left out', () => {
    // Act
    const text = fittedTable(rows, { width: 40, cellWidth: 20 });
    // Assess
    const lines = text.split('\n');
    expect(lines[0]).toBe('claimId      | status');
    expect(lines.slice(0, -1).every((line) => line.length <= 40)).toBe(true);
    expect(lines.at(-1)).toBe('(4 rows; first 2 of 4 columns shown, 2 more not shown)');
  });

  it('shows every column when they fit, and at most maxRows rows', () => {
    // Act
    const text = fittedTable(rows, { width: 200, cellWidth: 10, maxRows: 2 });
    // Assess
    expect(text.split('\n')).toEqual(['claimId    | status    | note       | n', '-----------+-----------+------------+--', 'CLM-00000… | In Review | xxxxxxxxx… | 0', 'CLM-00000… | In Review | xxxxxxxxx… | 1', '(4 rows; first 2 shown)']);
  });

  it('says so when there are no rows', () => {
    expect(fittedTable([])).toBe('(no rows)');
  });
});

describe('LiveLine', () => {
  const sink = (terminal: boolean) => {
    const out: string[] = [];
    const frames: string[] = [];
    return { io: { out: (t: string) => out.push(t), err: () => undefined, ...(terminal ? { overwrite: (t: string) => frames.push(t) } : {}) }, out, frames };
  };

  it('on a terminal rewrites one line and ends it with a newline', () => {
    // Prepare
    const s = sink(true);
    const line = new LiveLine(s.io);
    // Act
    line.update('a');
    line.update('b');
    line.end();
    // Assess
    expect(s.frames).toEqual(['a', 'b']);
    expect(s.out).toEqual(['']);
  });

  it('elsewhere prints a status only when it changed and not more often than asked, and the last one at the end', () => {
    // Prepare
    const s = sink(false);
    const line = new LiveLine(s.io, 60_000);
    // Act: the clock in the text changes every time; the counts (the key) change once.
    line.update('10:00:00 staged 1', 'staged 1');
    line.update('10:00:01 staged 1', 'staged 1');
    line.update('10:00:02 staged 0', 'staged 0');
    line.update('10:00:03 staged 0', 'staged 0');
    line.end();
    // Assess
    expect(s.out).toEqual(['10:00:00 staged 1', '10:00:03 staged 0']);
  });
});
