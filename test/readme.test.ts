import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { environment, runInChild } from './support/environment.js';

/**
 * README's leading examples, run as a reader would paste them, against the built package, on
 * the backend this suite runs on: on the WebAssembly default, on liboqs 0.12 and on the newest
 * release, each must run to its end. A `console.log(x); // y` line asserts that x prints as y
 * wherever it runs; one at the top level of an example must run.
 */
const SECTIONS = ['API', 'Hybrid KEMs', 'Start-up'];

interface Example {
  section: string;
  line: number;
  code: string;
}

function readmeExamples(): Example[] {
  const lines = readFileSync(new URL('../README.md', import.meta.url), 'utf8').split('\n');
  const examples: Example[] = [];
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const heading = /^#+ (.*)$/.exec(lines[i]!);
    if (heading) section = heading[1]!;
    if (lines[i] !== '```js' || !SECTIONS.includes(section)) continue;
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
function runnable(code: string): { script: string; topLevel: number[] } {
  const topLevel: number[] = [];
  const body = code.split('\n').map((line, index) => {
    const expectation = EXPECTATION.exec(line);
    if (!expectation) return line.replaceAll(`from 'x0tta6bl4-pqc'`, `from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)}`);
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
const backendEnv: Record<string, string> = environment.liboqs
  ? { X0TTA6BL4_PQC_BACKEND: 'native', X0TTA6BL4_LIBOQS_PATH: environment.liboqs.path }
  : { X0TTA6BL4_PQC_BACKEND: 'wasm' };

describe(`README's examples run on the ${environment.backend} backend${environment.liboqs ? ` (liboqs ${environment.liboqs.version})` : ''}`, () => {
  const examples = readmeExamples();

  it('there are examples in each section this test covers', () => {
    expect(new Set(examples.map((example) => example.section))).toEqual(new Set(SECTIONS));
  });

  for (const example of examples) {
    it(`${example.section}, README.md:${example.line}`, () => {
      const { script, topLevel } = runnable(example.code);
      const { status, stdout, stderr } = runInChild(script, backendEnv);
      expect(status, stderr).toBe(0);
      const { backend, ran } = JSON.parse(stdout) as { backend: string; ran: number[] };
      expect(backend).toBe(environment.backend);
      expect(ran).toEqual(expect.arrayContaining(topLevel));
    });
  }

  it('the Start-up example destructures fields that startup() returns', () => {
    const startupExample = examples.find((example) => example.section === 'Start-up')!;
    const destructured = /const \{([^}]*)\} = await startup\(/.exec(startupExample.code)![1]!.split(',').map((name) => name.trim());
    const { stdout, stderr } = runInChild(`process.stdout.write(JSON.stringify(Object.keys(await pqc.startup())));`, backendEnv);
    expect(JSON.parse(stdout), stderr).toEqual(expect.arrayContaining(destructured));
  });
});
