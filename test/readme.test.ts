import { describe, expect, it } from 'vitest';
import { environment, runInChild } from './support/environment.js';
import { backendEnv, readmeExamples, runnable } from './support/readme-examples.js';

/**
 * README's leading examples, run as a reader would paste them, against the built package, on
 * the backend this suite runs on: on the WebAssembly default, on liboqs 0.12 and on the newest
 * release, each must run to its end. A `console.log(x); // y` line asserts that x prints as y
 * wherever it runs; one at the top level of an example must run.
 */
const SECTIONS = ['API', 'Hybrid KEMs', 'Start-up'];

describe(`README's examples run on the ${environment.backend} backend${environment.liboqs ? ` (liboqs ${environment.liboqs.version})` : ''}`, () => {
  const examples = readmeExamples(SECTIONS);

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
