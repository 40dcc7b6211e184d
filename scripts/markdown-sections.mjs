// A Markdown file whose `## ` sections are written by different scripts, each owning its own.
import fs from 'node:fs';

/**
 * Replaces the section headed `heading` (a `## ` line) in `file` with `body`, which starts with
 * that heading, keeping every other section as it is; a missing section goes at the end.
 */
export function replaceSection(file, heading, body) {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const section = `${body.trimEnd()}\n`;
  const at = text.startsWith(`${heading}\n`) ? 0 : text.indexOf(`\n${heading}\n`) + 1;
  if (at === 0 && !text.startsWith(`${heading}\n`)) {
    fs.writeFileSync(file, text.trim() ? `${text.trimEnd()}\n\n${section}` : section);
    return;
  }
  const next = text.indexOf('\n## ', at + heading.length);
  fs.writeFileSync(file, text.slice(0, at) + section + (next < 0 ? '' : `\n${text.slice(next + 1)}`));
}
