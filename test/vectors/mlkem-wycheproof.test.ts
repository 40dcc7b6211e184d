import { describe, expect, it } from 'vitest';
import { Kem, PqcError, ready } from '../../lib/index.js';
import { hasConsistentDecapsulationKey, isReducedEncapsulationKey, mlKemRank } from '../../lib/ml-kem-input-checks.js';
import { itWith } from '../support/capability.js';
import { hex, readVectors, toHex } from '../support/environment.js';

/** C2SP/wycheproof testvectors_v1: ML-KEM decapsulation, key generation and encapsulation. */

interface Group<T> {
  parameterSet: string;
  source: { name: string };
  tests: T[];
}
interface File<T> {
  testGroups: Group<T>[];
}
interface Vector {
  tcId: number;
  comment?: string;
  flags?: string[];
  result: 'valid' | 'invalid';
}

await ready();

function throwsInvalidInput(fn: () => unknown) {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(PqcError);
  expect((thrown as PqcError).code).toBe('ERR_PQC_INVALID_INPUT');
}

const title = (t: Vector, group: Group<Vector>) =>
  `tcId ${t.tcId} [${group.source.name}] ${t.result}${t.comment ? `: ${t.comment}` : ''}${t.flags?.length ? ` (${t.flags.join(', ')})` : ''}`;

for (const level of [512, 768, 1024]) {
  // Seed → keys, then decapsulation; invalid vectors have a seed or ciphertext of the wrong length.
  describe(`mlkem_${level}_test.json`, () => {
    const file = readVectors<File<Vector & { seed: string; ek?: string; c: string; K: string }>>(`wycheproof/mlkem_${level}_test.json`);
    for (const group of file.testGroups) {
      const kem = new Kem(group.parameterSet);
      for (const t of group.tests) {
        itWith(['kemKeypairDerand'], title(t, group), () => {
          if (t.result === 'valid') {
            const { publicKey, secretKey } = kem.generateKeyPair({ seed: hex(t.seed) });
            expect(toHex(publicKey)).toBe(t.ek);
            expect(toHex(kem.decapsulate(hex(t.c), secretKey))).toBe(t.K);
          } else if (hex(t.seed).length !== 64) {
            throwsInvalidInput(() => kem.generateKeyPair({ seed: hex(t.seed) }));
          } else {
            const { secretKey } = kem.generateKeyPair({ seed: hex(t.seed) });
            throwsInvalidInput(() => kem.decapsulate(hex(t.c), secretKey));
          }
        });
      }
    }
  });

  describe(`mlkem_${level}_keygen_seed_test.json`, () => {
    const file = readVectors<File<Vector & { seed: string; ek: string; dk: string }>>(
      `wycheproof/mlkem_${level}_keygen_seed_test.json`,
    );
    for (const group of file.testGroups) {
      const kem = new Kem(group.parameterSet);
      for (const t of group.tests) {
        itWith(['kemKeypairDerand'], title(t, group), () => {
          const { publicKey, secretKey } = kem.generateKeyPair({ seed: hex(t.seed) });
          expect(toHex(publicKey)).toBe(t.ek);
          expect(toHex(secretKey)).toBe(t.dk);
        });
      }
    }
  });
}

describe('mlkem_768_encaps_test.json', () => {
  const file = readVectors<File<Vector & { m: string; ek: string; c: string; K: string }>>(
    'wycheproof/mlkem_768_encaps_test.json',
  );
  // lib/kem.ts and the hybrids apply the check only where the backend does not, so it is also
  // checked on its own, on every backend.
  it('lib/ml-kem-input-checks.ts finds a coefficient >= q in exactly the unreduced keys', () => {
    const sized = file.testGroups.flatMap((group) => group.tests).filter((t) => t.ek.length === 2 * new Kem('ML-KEM-768').publicKeyLength);
    const unreduced = (t: Vector & { comment?: string }) => t.flags?.includes('ModulusOverflow') || t.comment === 'Public key not reduced';
    expect(sized.filter((t) => !isReducedEncapsulationKey(hex(t.ek), mlKemRank('ML-KEM-768'))).map((t) => t.tcId)).toEqual(
      sized.filter(unreduced).map((t) => t.tcId),
    );
  });

  for (const group of file.testGroups) {
    const kem = new Kem(group.parameterSet);
    for (const t of group.tests) {
      if (t.result === 'valid') {
        itWith(['kemEncapsDerand'], title(t, group), () => {
          const { ciphertext, sharedSecret } = kem.encapsulate(hex(t.ek), { seed: hex(t.m) });
          expect(toHex(ciphertext)).toBe(t.c);
          expect(toHex(sharedSecret)).toBe(t.K);
        });
      } else {
        // Unreduced or mis-sized keys must be refused before any randomness is involved.
        itWith([], title(t, group), () => {
          throwsInvalidInput(() => kem.encapsulate(hex(t.ek)));
        });
      }
    }
  }
});

describe('mlkem_768_semi_expanded_decaps_test.json', () => {
  const file = readVectors<File<Vector & { dk: string; c: string; K: string }>>(
    'wycheproof/mlkem_768_semi_expanded_decaps_test.json',
  );
  it('lib/ml-kem-input-checks.ts finds a hash of ek that does not match in exactly the InvalidDecapsulationKey keys', () => {
    const sized = file.testGroups.flatMap((group) => group.tests).filter((t) => t.dk.length === 2 * new Kem('ML-KEM-768').secretKeyLength);
    expect(sized.filter((t) => !hasConsistentDecapsulationKey(hex(t.dk), mlKemRank('ML-KEM-768'))).map((t) => t.tcId)).toEqual(
      sized.filter((t) => t.flags?.includes('InvalidDecapsulationKey')).map((t) => t.tcId),
    );
  });

  for (const group of file.testGroups) {
    const kem = new Kem(group.parameterSet);
    for (const t of group.tests) {
      itWith([], title(t, group), () => {
        if (t.result === 'valid') expect(toHex(kem.decapsulate(hex(t.c), hex(t.dk)))).toBe(t.K);
        else throwsInvalidInput(() => kem.decapsulate(hex(t.c), hex(t.dk)));
      });
    }
  }
});
