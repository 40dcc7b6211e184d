/** How the benchmark tables print: figures with the digits that matter, and padded markdown tables. */

type Figure = number | null | undefined;

/** A time with three digits or so (two decimals below 10, one below 100); '—' for one not measured. */
export function figure(value: Figure): string {
  if (value === undefined || value === null) return '—';
  return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0);
}

/** ns as µs, as `figure` prints them. */
export const micros = (ns: Figure) => figure(ns === undefined || ns === null ? ns : ns / 1000);

/** A ratio with two decimals below 10, one above; '—' for one not measured. */
export function ratioFigure(value: Figure): string {
  if (value === undefined || value === null) return '—';
  return value < 10 ? value.toFixed(2) : value.toFixed(1);
}

/** A markdown table padded to its widest cells; the first `leftColumns` columns left-aligned, the rest (figures) right-aligned. */
export function markdownTable(headers: string[], body: string[][], leftColumns = 2): string {
  const right = headers.map((_, i) => i >= leftColumns);
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (right[i] ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`;
  return [line(headers), rule, ...body.map(line)].join('\n');
}
