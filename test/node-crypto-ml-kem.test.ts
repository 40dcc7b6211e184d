import crypto from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { Kem, ready } from '../lib/index.js';
import { environment } from './support/environment.js';
import { itWith } from './support/capability.js';

// Node 24.7 and later expose OpenSSL 3.5's ML-KEM: an implementation written apart from
// liboqs (and from the WebAssembly build of it), so agreement in both directions is evidence
// that ours speaks FIPS 203 and not merely itself.
const PARAMETER_SETS = ['ML-KEM-512', 'ML-KEM-768', 'ML-KEM-1024'] as const;

function nodeHasMlKem() {
  if (typeof (crypto as { encapsulate?: unknown }).encapsulate !== 'function') return false;
  try {
    crypto.generateKeyPairSync('ml-kem-768' as never).publicKey.export({ format: 'raw-public' } as never);
    return true;
  } catch {
    return false;
  }
}

const WHY_SKIPPED = `skipped: node:crypto of Node ${process.versions.node} (OpenSSL ${process.versions.openssl}) has no ML-KEM with raw keys (Node >= 24.7 with OpenSSL 3.5); the Node matrix runs this on Node 24 and 26`;
const available = nodeHasMlKem();
if (!available) console.warn(`[x0tta6bl4-pqc] tests ${WHY_SKIPPED}`);

type NodeKem = {
  encapsulate(key: crypto.KeyObject): { sharedKey: Buffer; ciphertext: Buffer };
  decapsulate(key: crypto.KeyObject, ciphertext: Uint8Array): Buffer;
};
const nodeKem = crypto as unknown as NodeKem;

const rawPublic = (key: crypto.KeyObject) => new Uint8Array(key.export({ format: 'raw-public' } as never) as unknown as Buffer);
const importPublic = (name: string, key: Uint8Array) =>
  crypto.createPublicKey({ key, format: 'raw-public', asymmetricKeyType: name.toLowerCase() } as never);

describe.skipIf(!available)(`interop with node:crypto's ML-KEM (${environment.backend} backend)`, () => {
  beforeAll(() => ready());

  for (const name of PARAMETER_SETS) {
    it(`${name}: node:crypto's key pair, our encapsulation, node:crypto's decapsulation`, () => {
      const kem = new Kem(name);
      const { publicKey, privateKey } = crypto.generateKeyPairSync(name.toLowerCase() as never);
      const ours = kem.encapsulate(rawPublic(publicKey));
      expect(ours.ciphertext.length).toBe(kem.ciphertextLength);
      const theirs = nodeKem.decapsulate(privateKey, ours.ciphertext);
      expect(Buffer.from(ours.sharedSecret).equals(theirs)).toBe(true);
    });

    it(`${name}: our key pair, node:crypto's encapsulation, our decapsulation`, () => {
      const kem = new Kem(name);
      const { publicKey, secretKey } = kem.generateKeyPair();
      const theirs = nodeKem.encapsulate(importPublic(name, publicKey));
      const ours = kem.decapsulate(theirs.ciphertext, secretKey);
      expect(Buffer.from(ours).equals(theirs.sharedKey)).toBe(true);
      // A changed ciphertext yields FIPS 203's implicit rejection on both sides, and the same one.
      const forged = Uint8Array.from(theirs.ciphertext);
      forged[0] ^= 1;
      const rejected = kem.decapsulate(forged, secretKey);
      expect(Buffer.from(rejected).equals(theirs.sharedKey)).toBe(false);
    });

    itWith(['kemKeypairDerand'], `${name}: one 64-byte seed (d || z) makes the same key pair in both`, () => {
      const kem = new Kem(name);
      const seed = crypto.randomBytes(64);
      const ours = kem.generateKeyPair({ seed });
      const privateKey = crypto.createPrivateKey({ key: seed, format: 'raw-seed', asymmetricKeyType: name.toLowerCase() } as never);
      expect(Buffer.from(ours.publicKey).equals(rawPublic(crypto.createPublicKey(privateKey)))).toBe(true);
      // And node:crypto's key from that seed decapsulates what ours encapsulated.
      const sent = kem.encapsulate(ours.publicKey);
      expect(Buffer.from(sent.sharedSecret).equals(nodeKem.decapsulate(privateKey, sent.ciphertext))).toBe(true);
    });
  }
});
