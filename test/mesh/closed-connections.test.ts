import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { ready } from '../../lib/index.js';
import type { SecureChannel } from '../../lib/mesh/index.js';
import { environment } from '../support/environment.js';
import { nodePair } from './support.js';

/**
 * Memory is returned when a connection closes: nothing the accepting node keeps for a while —
 * the timer that ends connections without a handshake, the cache of answers to retransmitted
 * InitAuths — holds a closed connection (its socket, channel and record layer) alive. The soak
 * (scripts/soak.mjs) found closed channels held that way for the handshake timeout.
 */
await ready();
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0)) await close();
});

describe(`closed connections on the ${environment.backend} backend`, () => {
  it('are released by the node that accepted them at once, not after the handshake timeout', async () => {
    // A handshake timeout far longer than the test, so that only a release on close can pass it.
    const { a, b } = await nodePair({ limits: { timeoutMs: 120_000 } });
    cleanup.push(() => a.close(), () => b.close());
    const listener = await b.listen({ host: '127.0.0.1' });
    const released = new Set<number>();
    const finalization = new FinalizationRegistry<number>((n) => released.add(n));
    // In a function of its own, so that no register of this test's suspended frame holds a channel.
    const openAndClose = async (n: number) => {
      const accepted = new Promise<SecureChannel>((resolve) => b.once('channel', resolve));
      const outbound = await a.establishSecureChannel('node-b', { host: '127.0.0.1', port: listener.port });
      const inbound = await accepted;
      const closed = new Promise((resolve) => inbound.once('close', resolve));
      finalization.register(inbound, n);
      outbound.close();
      await closed;
    };
    const COUNT = 3;
    for (let n = 0; n < COUNT; n++) await openAndClose(n);
    for (let i = 0; i < 50 && released.size < COUNT; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect([...released].sort()).toEqual([0, 1, 2]);
  });
});
