import { describe, expect, it } from 'vitest';
import { ready } from '../../lib/index.js';
import { InitiatorHandshake, Responder, type HandshakeContext } from '../../lib/mesh/handshake.js';
import type { MeshError } from '../../lib/mesh/failure.js';
import { encodeInitHello, parseInitHello, parseRespHello } from '../../lib/mesh/messages.js';
import { CLASSICAL_SUITE, HIGH_SUITE, X25519MLKEM768_SUITE } from '../../lib/mesh/suites.js';
import { environment } from '../support/environment.js';
import { parties } from './support.js';

await ready();

/**
 * Which suites the responder accepts from a peer and which it selects (docs/protocol.md, "Suites" and
 * "The classical fallback suite"): only suites signed with both its own and the peer's ML-DSA parameter set, the
 * classical one never for a peer pinned to post-quantum, and a post-quantum suite over the
 * classical one whatever the offer's order. No classical KEM operation runs here.
 */
describe(`the responder's suite choice on the ${environment.backend} backend`, async () => {
  const [alice, bob] = await parties(['alice', 'bob']);
  const fields = async () => parseInitHello((await InitiatorHandshake.start(alice!.ctx, bob!.keys)).hello);
  /** An InitHello of alice's with `offer`; its key share stays X25519MLKEM768's. */
  const offering = async (...offer: number[]) => encodeInitHello({ ...(await fields()), offer: Uint8Array.from(offer) });
  const responder = (changes: Partial<HandshakeContext>) => new Responder({ ...bob!.ctx, ...changes }, () => {});
  const refusal = (step: Promise<unknown>) => step.then(
    () => 'accepted',
    (error: MeshError) => `${error.reason}: ${error.message}`,
  );

  it('accepts no suite from a peer whose identity signs with another parameter set than this node', async () => {
    const peer87 = responder({
      accepts: () => [X25519MLKEM768_SUITE, HIGH_SUITE],
      peer: async (id) => {
        const identity = await bob!.ctx.peer(id);
        return identity && { ...identity, sigAlgorithm: 'ML-DSA-87' };
      },
    });
    const hello = await offering(X25519MLKEM768_SUITE.id, HIGH_SUITE.id);
    expect(await refusal(peer87.receive(hello))).toBe('unsupported_suite: no suite in common with alice');
  });

  it('lists the classical suite as accepted only for a peer not pinned to post-quantum', async () => {
    const both = [X25519MLKEM768_SUITE, CLASSICAL_SUITE];
    const hello = async () => offering(X25519MLKEM768_SUITE.id, CLASSICAL_SUITE.id);
    const pinned = responder({ accepts: () => both, pinnedToPq: (id) => id === 'alice' });
    expect([...parseRespHello((await pinned.receive(await hello())).reply!).accepted]).toEqual([X25519MLKEM768_SUITE.id]);
    const unpinned = responder({ accepts: () => both });
    expect([...parseRespHello((await unpinned.receive(await hello())).reply!).accepted]).toEqual([X25519MLKEM768_SUITE.id, CLASSICAL_SUITE.id]);
  });

  it('refuses a pinned peer that offers only the classical suite as a downgrade, saying why', async () => {
    const pinned = responder({ accepts: () => [X25519MLKEM768_SUITE, CLASSICAL_SUITE], pinnedToPq: () => true });
    // An X25519 public key is 32 bytes; it is refused before any KEM work.
    const classicalOnly = encodeInitHello({ ...(await fields()), offer: Uint8Array.of(CLASSICAL_SUITE.id), shareSuite: CLASSICAL_SUITE.id, share: new Uint8Array(32).fill(9) });
    expect(await refusal(pinned.receive(classicalOnly))).toBe(
      'downgrade: alice offered only the classical suite, which this node does not accept now (not in fallback mode, or the peer is pinned to PQ)',
    );
  });

  it('selects the post-quantum suite over the classical one even when the offer lists the classical first', async () => {
    const fallback = responder({ accepts: () => [X25519MLKEM768_SUITE, CLASSICAL_SUITE] });
    const reply = (await fallback.receive(await offering(CLASSICAL_SUITE.id, X25519MLKEM768_SUITE.id))).reply!;
    expect(reply[1]).toBe(0x03);
    expect(parseRespHello(reply).selected).toBe(X25519MLKEM768_SUITE.id);
  });
});
