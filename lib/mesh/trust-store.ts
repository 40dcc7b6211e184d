import { PqcError } from '../errors.js';
import { parsePublicKeys, requireNodeId, type PublicKeys, type PublicKeysJson } from './identity.js';

type Given = PublicKeys | PublicKeysJson;

/**
 * Which peers a node talks to, and by which keys: a static list, or a function asked per node
 * id (e.g. backed by SPIFFE or a directory service), either way overridden by `trust`/`untrust`.
 */
export type TrustedPeers = Iterable<Given> | ((nodeId: string) => Given | undefined | Promise<Given | undefined>);

export class TrustStore {
  readonly #static = new Map<string, PublicKeys>();
  readonly #untrusted = new Set<string>();
  readonly #lookup: ((nodeId: string) => Given | undefined | Promise<Given | undefined>) | undefined;

  constructor(peers: TrustedPeers | undefined) {
    if (typeof peers === 'function') this.#lookup = peers;
    else if (peers !== undefined) {
      if (typeof (peers as Iterable<Given>)[Symbol.iterator] !== 'function') {
        throw new PqcError('ERR_PQC_INVALID_CONFIGURATION', 'trustedPeers must be a list of public keys or a function of a node id');
      }
      for (const peer of peers) this.trust(peer);
    }
  }

  trust(peer: Given): PublicKeys {
    const keys = parsePublicKeys(peer);
    this.#static.set(keys.nodeId, keys);
    this.#untrusted.delete(keys.nodeId);
    return keys;
  }

  untrust(nodeId: string): void {
    requireNodeId(nodeId);
    this.#static.delete(nodeId);
    this.#untrusted.add(nodeId);
  }

  /** The trusted keys of `nodeId`, or undefined. A lookup function that throws or returns keys of another node trusts nobody. */
  async lookup(nodeId: string): Promise<PublicKeys | undefined> {
    const known = this.#static.get(nodeId);
    if (known || this.#untrusted.has(nodeId) || !this.#lookup) return known;
    try {
      const found = await this.#lookup(nodeId);
      // Stryker disable next-line ConditionalExpression: parsePublicKeys(undefined) throws, and the catch below returns undefined as this does
      if (found === undefined) return undefined;
      const keys = parsePublicKeys(found);
      return keys.nodeId === nodeId ? keys : undefined;
    } catch {
      // A lookup function that throws, or answers with something that is not keys, trusts nobody.
    }
    return undefined;
  }

  /** `lookup` for callers that cannot wait: throws for an untrusted peer or an asynchronous lookup function. */
  lookupSync(nodeId: string): PublicKeys {
    requireNodeId(nodeId, 'peerId');
    let keys = this.#static.get(nodeId);
    if (!keys && !this.#untrusted.has(nodeId) && this.#lookup) {
      let found;
      try {
        found = this.#lookup(nodeId);
      } catch {
        // A lookup function that throws trusts nobody: found stays undefined.
      }
      if (found instanceof Promise) {
        found.catch(() => undefined);
        throw new PqcError('ERR_PQC_INVALID_CONFIGURATION', 'the trust lookup is asynchronous: use the …Async method');
      }
      keys = found === undefined ? undefined : parsePublicKeys(found);
      if (keys?.nodeId !== nodeId) keys = undefined;
    }
    if (!keys) throw new PqcError('ERR_PQC_UNKNOWN_PEER', `${nodeId} is not a trusted peer`);
    return keys;
  }

  /** The keys held for `nodeId` in the list (and from trust()), without asking a lookup function. */
  listed(nodeId: string): PublicKeys | undefined {
    return this.#static.get(nodeId);
  }
}
