/**
 * Aligned text tables as docker prints them: each column as wide as its widest cell, three spaces
 * between columns, no trailing spaces.
 */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, col) => Math.max(h.length, ...rows.map((r) => (r[col] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, col) => (col === cells.length - 1 ? cell : cell.padEnd(widths[col]!)))
      .join('   ')
      .trimEnd();
  return [header, ...rows].map(line).join('\n') + '\n';
}

/** Object ids are shown by their first 12 characters in tables, as docker does. */
export function shortId(id: string, noTrunc = false): string {
  return noTrunc ? id : id.slice(0, 12);
}

/** `text`, cut to `max` characters with an ellipsis when longer. */
export function ellipsis(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
