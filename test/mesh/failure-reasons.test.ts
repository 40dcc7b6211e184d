import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PqcError } from '../../lib/errors.js';
import { asMeshError, fail, FAILURE_REASONS, kemStep, MeshError, reasonOf } from '../../lib/mesh/failure.js';

/** docs/protocol.md §9's table: Abort byte, reason and PqcError code of each failure. */
function documentedReasons(): { index: number; reason: string; code: string }[] {
  const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('## 9. Failure reasons'));
  return [...section.matchAll(/^\| (\d+) \| `(\w+)` \| `(ERR_PQC_\w+)` \|/gm)].map((row) => ({ index: Number(row[1]), reason: row[2]!, code: row[3]! }));
}

/** What docs/protocol.md §9 maps a backend's error codes to; any other code is a KEM step's or the backend's. */
const MAPPED_CODES = [
  ['ERR_PQC_INVALID_INPUT', 'invalid_key'],
  ['ERR_PQC_CHANNEL_CLOSED', 'closed'],
  ['ERR_PQC_FRAME_TOO_LARGE', 'malformed'],
  ['ERR_PQC_KEYS_EXPIRED', 'keys_expired'],
] as const;

describe('mesh failure reasons (failure.ts)', () => {
  it('has the Abort bytes and PqcError codes of docs/protocol.md §9', () => {
    const rows = documentedReasons();
    expect(rows.map((row) => row.index)).toEqual(rows.map((_, i) => i));
    expect(FAILURE_REASONS).toEqual(rows.map((row) => row.reason));
    for (const { reason, code } of rows) {
      const error = new MeshError(reason as MeshError['reason'], 'refused');
      expect(error).toBeInstanceOf(PqcError);
      expect({ reason: error.reason, code: error.code, message: error.message }).toEqual({ reason, code, message: 'refused' });
    }
  });

  it('fail() throws a MeshError that keeps a given cause and has none otherwise', () => {
    const cause = new Error('underneath');
    expect(() => fail('replay', 'seen before', cause)).toThrow(expect.objectContaining({ reason: 'replay', code: 'ERR_PQC_REPLAY', message: 'seen before', cause }));
    try {
      fail('malformed', 'too short');
    } catch (error) {
      expect(error).toBeInstanceOf(MeshError);
      expect((error as MeshError).reason).toBe('malformed');
      // No `cause: undefined` either: inspect would print it.
      expect(Object.hasOwn(error as object, 'cause')).toBe(false);
    }
    expect.assertions(4);
  });

  it('reasonOf keeps a MeshError’s own reason, in a KEM step or not', () => {
    for (const reason of ['replay', 'downgrade', 'liboqs_error'] as const) {
      const error = new MeshError(reason, 'x');
      expect([reasonOf(error), reasonOf(error, true)]).toEqual([reason, reason]);
    }
  });

  it('reasonOf maps the backend’s error codes as docs/protocol.md §9 says', () => {
    for (const [code, reason] of MAPPED_CODES) {
      const error = new PqcError(code, 'from the backend');
      expect([code, reasonOf(error), reasonOf(error, true)]).toEqual([code, reason, reason]);
      // What the addon throws is a plain Error with a `code`: the code decides, not the class.
      expect(reasonOf(Object.assign(new Error('addon'), { code }))).toBe(reason);
    }
  });

  it('reasonOf counts any other failure as kem_error in a KEM step and liboqs_error outside one', () => {
    for (const error of [new PqcError('ERR_PQC_OPERATION_FAILED', 'x'), new Error('plain'), 'a string', null, undefined, { code: 42 }]) {
      expect([reasonOf(error, true), reasonOf(error, false), reasonOf(error)]).toEqual(['kem_error', 'liboqs_error', 'liboqs_error']);
    }
  });

  it('asMeshError passes a MeshError on as it is', () => {
    const error = new MeshError('unknown_peer', 'who?');
    expect(asMeshError(error)).toBe(error);
    expect(asMeshError(error, true)).toBe(error);
  });

  it('asMeshError wraps any other error under its reason, with the reason in words, its message and the error as cause', () => {
    const boom = new Error('boom');
    const cases: [unknown, boolean, MeshError['reason'], string][] = [
      [boom, false, 'liboqs_error', 'liboqs error: boom'],
      [boom, true, 'kem_error', 'kem error: boom'],
      [new PqcError('ERR_PQC_INVALID_INPUT', 'publicKey must be 1216 bytes'), true, 'invalid_key', 'invalid key: publicKey must be 1216 bytes'],
      [new PqcError('ERR_PQC_KEYS_EXPIRED', 'rotate first'), false, 'keys_expired', 'keys expired: rotate first'],
      // Not an Error: its text.
      ['a string', false, 'liboqs_error', 'liboqs error: a string'],
      [null, true, 'kem_error', 'kem error: null'],
      [undefined, false, 'liboqs_error', 'liboqs error: undefined'],
    ];
    for (const [error, inKemStep, reason, message] of cases) {
      const wrapped = inKemStep ? asMeshError(error, true) : asMeshError(error);
      expect(wrapped).toBeInstanceOf(MeshError);
      expect({ reason: wrapped.reason, message: wrapped.message }).toEqual({ reason, message });
      expect(Object.hasOwn(wrapped, 'cause') && wrapped.cause).toBe(error);
    }
  });

  it('kemStep turns a failed KEM operation into a MeshError and passes a result through', async () => {
    await expect(kemStep(Promise.resolve(7))).resolves.toBe(7);
    const failed = kemStep(Promise.reject(new Error('decapsulation broke')));
    await expect(failed).rejects.toThrow(expect.objectContaining({ reason: 'kem_error', code: 'ERR_PQC_KEM_FAILED', message: 'kem error: decapsulation broke' }));
    await expect(kemStep(Promise.reject(new PqcError('ERR_PQC_INVALID_INPUT', 'bad length')))).rejects.toThrow(expect.objectContaining({ reason: 'invalid_key' }));
  });
});
