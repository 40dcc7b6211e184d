// BENCHMARKS.md is written by eight scripts, each owning its sections: bench.mjs the head (up to
// the first section named here), bench-throughput.mjs, bench-wasm.mjs, bench-hybrid.mjs,
// bench-instructions.mjs, bench-mesh.mjs, bench-control-plane.mjs and bench-libp2p.mjs one each.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCHMARKS_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'BENCHMARKS.md');
export const THROUGHPUT_SECTION = '## Batches and the event loop';
export const WASM_SECTION = '## WebAssembly backend';
export const HYBRID_SECTION = '## Hybrid KEMs';
export const INSTRUCTIONS_SECTION = '## Instructions per operation';
export const MESH_SECTION = '## Mesh';
export const CONTROL_PLANE_SECTION = '## Control plane';
export const LIBP2P_SECTION = '## libp2p';
const SECTIONS = [THROUGHPUT_SECTION, WASM_SECTION, HYBRID_SECTION, INSTRUCTIONS_SECTION, MESH_SECTION, CONTROL_PLANE_SECTION, LIBP2P_SECTION];

function read() {
  return fs.existsSync(BENCHMARKS_FILE) ? fs.readFileSync(BENCHMARKS_FILE, 'utf8') : '';
}

/** The file's sections by heading ('' for the head before the first one named in SECTIONS). */
function split(text) {
  const sections = new Map([['', text]]);
  const starts = SECTIONS.map((heading) => [heading, text.indexOf(`\n${heading}\n`)])
    .filter(([, start]) => start >= 0)
    .sort((a, b) => a[1] - b[1]);
  if (starts.length) sections.set('', text.slice(0, starts[0][1] + 1));
  starts.forEach(([heading, start], i) => sections.set(heading, text.slice(start + 1, starts[i + 1]?.[1] ?? text.length)));
  return sections;
}

function join(sections) {
  const parts = [sections.get('') ?? '', ...SECTIONS.map((heading) => sections.get(heading)).filter(Boolean)];
  return parts.map((part) => part.trimEnd()).join('\n\n') + '\n';
}

/** Rewrites the head (bench.mjs's part), keeping the other scripts' sections. */
export function writeHead(text) {
  const sections = split(read());
  sections.set('', text);
  fs.writeFileSync(BENCHMARKS_FILE, join(sections));
}

/** Rewrites the section under `heading` (one of the headings above); `body` starts with it. */
export function writeSection(heading, body) {
  const sections = split(read());
  sections.set(heading, body);
  fs.writeFileSync(BENCHMARKS_FILE, join(sections));
}
