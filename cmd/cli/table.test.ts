import { describe, expect, it } from 'vitest';
import { ellipsis, renderTable, shortId } from './table.js';

describe('renderTable', () => {
  it('sizes columns by their widest cell with three spaces between and no trailing spaces', () => {
    const text = renderTable(
      ['ID', 'NAME', 'REPLICAS'],
      [
        ['abc', 'web', '3/3'],
        ['defghijk', 'a-longer-name', ''],
      ],
    );
    expect(text).toBe('ID         NAME            REPLICAS\n' + 'abc        web             3/3\n' + 'defghijk   a-longer-name\n');
  });

  it('prints the header alone when there are no rows', () => {
    expect(renderTable(['NAME', 'SERVICES'], [])).toBe('NAME   SERVICES\n');
  });
});

describe('shortId and ellipsis', () => {
  it('cut ids to 12 characters unless told not to', () => {
    expect(shortId('0123456789abcdefghijklmno')).toBe('0123456789ab');
    expect(shortId('0123456789abcdefghijklmno', true)).toBe('0123456789abcdefghijklmno');
  });

  it('cut long text with an ellipsis', () => {
    expect(ellipsis('short', 10)).toBe('short');
    expect(ellipsis('a much longer text', 10)).toBe('a much lo…');
  });
});
