import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_COLUMNS, type ColumnSpec } from '../src/domain/columns';
import { DIALECTS } from '../src/warehouse/dialect';

const describeSource = (c: ColumnSpec): string => {
  switch (c.source.kind) {
    case 'image':
      return `\`${c.source.path.join('.')}\`${c.source.encode ? ' (JSON text)' : ''}`;
    case 'event':
      return `event: \`${c.source.field}\``;
    case 'rawImage':
      return 'the whole image (JSON)';
    case 'warehouse':
      return 'set by the warehouse';
  }
};

describe('the README column table', () => {
  it('lists exactly the registry columns, in order, with their Snowflake types, sources and PHI flags', () => {
    // Prepare
    const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('| column | Snowflake type | from |'));
    const documented = section
      .split('\n')
      .slice(2)
      .filter((line, i, all) => line.startsWith('|') && all.slice(0, i).every((l) => l.startsWith('|')));
    // Act
    const expected = ALL_COLUMNS.map((c) => `| ${c.name} | ${DIALECTS.snowflake.type(c.type)} | ${describeSource(c)} | ${c.phi ? 'PHI' : ''} |`);
    // Assess
    expect(documented).toEqual(expected);
  });
});
