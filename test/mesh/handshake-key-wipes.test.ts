import { describe, expect, it, vi } from 'vitest';
import { ready } from '../../lib/index.js';
import { InitiatorHandshake, Responder } from '../../lib/mesh/handshake.js';
import { MeshError } from '../../lib/mesh/failure.js';
import { environment } from '../support/environment.js';
import { fullHandshake, parties } from './support.js';

/**
 * The handshake keys k_I and k_R (docs/protocol.md, §5 "Key schedule") live
 * only until the Auth messages are sealed and opened: each side's pair is recorded where the key
 * schedule cuts it from the HKDF output, and must be zero once the handshake has ended, however
 * it ended.
 */
const cut = vi.hoisted(() => [] as Uint8Array[]);
vi.mock('../../lib/mesh/key-schedule.js', async (importOriginal) => {
  const schedule = await importOriginal<typeof import('../../lib/mesh/key-schedule.js')>();
  return {
    ...schedule,
    split: (...args: Parameters<typeof schedule.split>) => {
      const parts = schedule.split(...args);
      cut.push(...parts);
      return parts;
    },
  };
});

await ready();

const zero = (bytes: Uint8Array) => bytes.every((byte) => byte === 0);

describe(`handshake key wipes on the ${environment.backend} backend`, async () => {
  const [alice, bob] = await parties(['alice', 'bob']);

  it('wipes k_I and k_R on both sides once both sessions exist', async () => {
    cut.length = 0;
    const { initiator, responder } = await fullHandshake(alice!, new Responder(bob!.ctx, () => {}), bob!.keys);
    // One pair for each side.
    expect(cut).toHaveLength(4);
    expect(cut.map(zero)).toEqual([true, true, true, true]);
    expect(zero(initiator.chainKey) || zero(responder.chainKey)).toBe(false);
  });

  it('wipes the initiator’s k_I when it fails to make its InitAuth', async () => {
    const failing = { ...alice!.ctx, signer: { ...alice!.signer, sign: () => Promise.reject(new MeshError('liboqs_error', 'the signer failed')) } };
    const responder = new Responder(bob!.ctx, () => {});
    const handshake = await InitiatorHandshake.start(failing, bob!.keys);
    const respHello = (await responder.receive(handshake.hello)).reply!;
    cut.length = 0;
    await expect(handshake.receive(respHello)).rejects.toThrow('the signer failed');
    expect(cut).toHaveLength(2);
    expect(cut.map(zero)).toEqual([true, true]);
  });
});
