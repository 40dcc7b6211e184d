import { describe, expect, it } from 'vitest';
import { environment, runInChild } from '../support/environment.js';
import { backendEnv, readmeExamples, runnable } from '../support/readme-examples.js';
import { LIBP2P_SKIP } from './support.js';

/** README's libp2p example, run as a reader would paste it, against the built package (dist/). */
describe.skipIf(LIBP2P_SKIP !== undefined)(`README's libp2p example runs on the ${environment.backend} backend${LIBP2P_SKIP ? ` (skipped: ${LIBP2P_SKIP})` : ''}`, () => {
  const [example, ...more] = readmeExamples(['libp2p']);

  it(`libp2p, README.md:${example?.line}`, () => {
    expect(more).toEqual([]);
    const { script, topLevel } = runnable(example!.code);
    const { status, stdout, stderr } = runInChild(script, backendEnv);
    expect(status, stderr).toBe(0);
    const { backend, ran } = JSON.parse(stdout) as { backend: string; ran: number[] };
    expect(backend).toBe(environment.backend);
    expect(ran).toEqual(expect.arrayContaining(topLevel));
    expect(topLevel).toHaveLength(4);
  }, 60_000);
});
