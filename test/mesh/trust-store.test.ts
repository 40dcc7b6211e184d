import { describe, expect, it } from 'vitest';
import { ready } from '../../lib/index.js';
import { generateIdentity, publicKeys, type PublicKeys } from '../../lib/mesh/identity.js';
import { TrustStore, type TrustedPeers } from '../../lib/mesh/trust-store.js';
import { expectCode } from '../support/errors.js';

/**
 * The trust store on its own (lib/mesh/trust-store.ts, README's `trustedPeers`): a static list
 * or a lookup function (sync or async), either way overridden by trust()/untrust(); a lookup
 * function that throws or answers with another node's keys trusts nobody.
 */
await ready();
const [idA, idB] = await Promise.all([generateIdentity(), generateIdentity()]);
const keysA = publicKeys('node-a', idA.algorithm, idA.publicKey);
const keysB = publicKeys('node-b', idB.algorithm, idB.publicKey);
/** keysB's key under node-a's name: what a lookup function must not be trusted with for node-b. */
const keysBAsA = publicKeys('node-a', idB.algorithm, idB.publicKey);

const notTrusted = (nodeId: string) => `${nodeId} is not a trusted peer`;
function unknownPeer(store: TrustStore, nodeId: string): string {
  return expectCode(() => store.lookupSync(nodeId), 'ERR_PQC_UNKNOWN_PEER').message;
}

/** A lookup function answering from `table`, counting its calls. */
function directory(table: Record<string, PublicKeys | undefined>, wrap: (keys: PublicKeys | undefined) => unknown = (keys) => keys) {
  const asked: string[] = [];
  const lookup = (nodeId: string) => (asked.push(nodeId), wrap(table[nodeId]));
  return { asked, lookup: lookup as TrustedPeers };
}

describe('a static list', () => {
  it('trusts the keys listed, in either form, and nobody else', async () => {
    const store = new TrustStore([keysA, JSON.parse(JSON.stringify(keysB))]);
    expect(store.listed('node-a')?.keyId).toBe(keysA.keyId);
    expect(store.listed('node-b')?.keyId).toBe(keysB.keyId);
    expect((await store.lookup('node-a'))?.keyId).toBe(keysA.keyId);
    expect(store.lookupSync('node-b').keyId).toBe(keysB.keyId);
    expect(await store.lookup('node-c')).toBeUndefined();
    expect(store.listed('node-c')).toBeUndefined();
    expect(unknownPeer(store, 'node-c')).toBe(notTrusted('node-c'));
  });

  it('takes any iterable, and none at all', async () => {
    const store = new TrustStore(new Set([keysA]));
    expect(store.lookupSync('node-a').keyId).toBe(keysA.keyId);
    const empty = new TrustStore(undefined);
    expect(await empty.lookup('node-a')).toBeUndefined();
    expect(unknownPeer(empty, 'node-a')).toBe(notTrusted('node-a'));
  });

  it('refuses what is neither a list nor a function', () => {
    for (const bad of [{}, 7, { nodeId: 'node-a' }]) {
      const error = expectCode(() => new TrustStore(bad as unknown as TrustedPeers), 'ERR_PQC_INVALID_CONFIGURATION');
      expect(error.message).toBe('trustedPeers must be a list of public keys or a function of a node id');
    }
  });

  it('is changed by trust() and untrust()', async () => {
    const store = new TrustStore([keysA]);
    store.untrust('node-a');
    expect(store.listed('node-a')).toBeUndefined();
    expect(await store.lookup('node-a')).toBeUndefined();
    expect(unknownPeer(store, 'node-a')).toBe(notTrusted('node-a'));
    store.trust(keysBAsA);
    expect(store.lookupSync('node-a').keyId).toBe(keysBAsA.keyId);
  });

  it("checks the node id that lookupSync is given, as the peer's", () => {
    const store = new TrustStore([keysA]);
    const error = expectCode(() => store.lookupSync(''), 'ERR_PQC_INVALID_INPUT');
    expect(error.message).toBe('peerId must be a string of 1 to 255 UTF-8 bytes without control characters');
  });
});

describe('a lookup function', () => {
  for (const kind of ['sync', 'async'] as const) {
    const wrap = kind === 'sync' ? undefined : (keys: PublicKeys | undefined) => Promise.resolve(keys);

    it(`(${kind}) is asked for a node not trusted or untrusted by hand, and its answer must be that node's keys`, async () => {
      const { asked, lookup } = directory({ 'node-b': keysB, 'node-a': keysB, 'node-c': undefined }, wrap);
      const store = new TrustStore(lookup);
      expect((await store.lookup('node-b'))?.keyId).toBe(keysB.keyId);
      // Another node's keys under the asked id trust nobody.
      expect(await store.lookup('node-a')).toBeUndefined();
      expect(await store.lookup('node-c')).toBeUndefined();
      expect(asked).toEqual(['node-b', 'node-a', 'node-c']);
      // The function is not part of the list.
      expect(store.listed('node-b')).toBeUndefined();
    });

    it(`(${kind}) is overridden by trust() and untrust(), and not asked then`, async () => {
      const { asked, lookup } = directory({ 'node-a': undefined, 'node-b': keysB }, wrap);
      const store = new TrustStore(lookup);
      store.trust(keysA);
      store.untrust('node-b');
      expect((await store.lookup('node-a'))?.keyId).toBe(keysA.keyId);
      expect(store.lookupSync('node-a').keyId).toBe(keysA.keyId);
      expect(store.listed('node-a')?.keyId).toBe(keysA.keyId);
      expect(await store.lookup('node-b')).toBeUndefined();
      expect(unknownPeer(store, 'node-b')).toBe(notTrusted('node-b'));
      expect(asked).toEqual([]);
    });

    it(`(${kind}) that throws trusts nobody`, async () => {
      const store = new TrustStore(() => {
        if (kind === 'sync') throw new Error('directory down');
        return Promise.reject(new Error('directory down'));
      });
      expect(await store.lookup('node-a')).toBeUndefined();
      if (kind === 'sync') expect(unknownPeer(store, 'node-a')).toBe(notTrusted('node-a'));
    });
  }

  it('(sync) answers lookupSync: the node\'s keys, or the peer is unknown', () => {
    const { asked, lookup } = directory({ 'node-b': keysB, 'node-a': keysB, 'node-c': undefined });
    const store = new TrustStore(lookup);
    expect(store.lookupSync('node-b').keyId).toBe(keysB.keyId);
    expect(unknownPeer(store, 'node-a')).toBe(notTrusted('node-a'));
    expect(unknownPeer(store, 'node-c')).toBe(notTrusted('node-c'));
    expect(asked).toEqual(['node-b', 'node-a', 'node-c']);
  });

  it('(sync) whose answer is not public keys is refused as such', () => {
    const store = new TrustStore(() => ({ nodeId: 'node-a', sigAlgorithm: 'RSA', sigPublicKey: '00' }));
    expectCode(() => store.lookupSync('node-a'), 'ERR_PQC_INVALID_INPUT');
  });

  // An unhandled rejection fails the vitest run, so the rejecting lookup also checks that lookupSync handles it.
  it('(async) is refused by lookupSync, and its rejection is not left unhandled', async () => {
    const store = new TrustStore(() => Promise.reject(new Error('directory down')));
    const error = expectCode(() => store.lookupSync('node-a'), 'ERR_PQC_INVALID_CONFIGURATION');
    expect(error.message).toBe('the trust lookup is asynchronous: use the …Async method');
    const resolving = new TrustStore(() => Promise.resolve(keysA));
    expect(expectCode(() => resolving.lookupSync('node-a'), 'ERR_PQC_INVALID_CONFIGURATION').message).toBe(error.message);
    await new Promise((resolve) => setImmediate(resolve));
  });
});
