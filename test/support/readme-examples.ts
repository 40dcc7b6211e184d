import { readFileSync } from 'node:fs';
import { environment } from './environment.js';

export interface Example {
  section: string;
  line: number;
  code: string;
}

/** README's ```js examples under the headings in `sections`. */
export function readmeExamples(sections: string[]): Example[] {
  const lines = readFileSync(new URL('../../README.md', import.meta.url), 'utf8').split('\n');
  const examples: Example[] = [];
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const heading = /^#+ (.*)$/.exec(lines[i]!);
    if (heading) section = heading[1]!;
    if (lines[i] !== '```js' || !sections.includes(section)) continue;
    const end = lines.indexOf('```', i + 1);
    examples.push({ section, line: i + 1, code: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return examples;
}

const EXPECTATION = /^(\s*)console\.log\((.*)\);\s*\/\/\s*(.*?)\s*$/;

/**
 * The example as a module: the package from dist/, each expectation a check, the free names the
 * Start-up example leaves to the reader (`logger`, `page`, `server`) stubbed.
 */
export function runnable(code: string): { script: string; topLevel: number[] } {
  const topLevel: number[] = [];
  const body = code.split('\n').map((line, index) => {
    const expectation = EXPECTATION.exec(line);
    if (!expectation) {
      return line
        .replaceAll(`from 'x0tta6bl4-pqc'`, `from ${JSON.stringify(new URL('../../dist/index.js', import.meta.url).href)}`)
        .replaceAll(`from 'x0tta6bl4-pqc/libp2p'`, `from ${JSON.stringify(new URL('../../dist/libp2p/index.js', import.meta.url).href)}`);
    }
    const [, indent, expression, expected] = expectation;
    if (indent === '') topLevel.push(index);
    return `${indent}__expect(${index}, ${expression}, ${JSON.stringify(expected)});`;
  });
  const prelude = `const __ran = [];
    const __expect = (index, value, expected) => {
      if (String(value) !== expected) throw new Error(\`README line +\${index}: printed \${String(value)}, its comment says \${expected}\`);
      __ran.push(index);
    };
    Object.assign(globalThis, { logger: undefined, page() {}, server: { close() {} } });`;
  const epilogue = `process.stdout.write(JSON.stringify({ backend: pqc.info().backend, ran: __ran }));`;
  return { script: [prelude, ...body, epilogue].join('\n'), topLevel };
}

/** Children load exactly the liboqs this suite runs on, or none. */
export const backendEnv: Record<string, string> = environment.liboqs
  ? { X0TTA6BL4_PQC_BACKEND: 'native', X0TTA6BL4_LIBOQS_PATH: environment.liboqs.path }
  : { X0TTA6BL4_PQC_BACKEND: 'wasm' };

