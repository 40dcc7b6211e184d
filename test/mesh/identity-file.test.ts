import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';

/**
 * saveIdentity and loadIdentity against the file format of README ("x0tta6bl4-pq identity 1\n" ‖
 * u8 len ‖ algorithm ‖ u16 len ‖ public key ‖ u16 len ‖ secret key), with each refusal's code and
 * message, and what they leave behind: every file handle closed, and the file's bytes in memory
 * wiped, on success and on failure. A pass-through node:fs/promises records the handles that
 * lib/mesh/identity.ts opens, the buffers it writes and the ones it reads.
 */
const seen = vi.hoisted(() => ({ handles: [] as { path: string; closed: boolean }[], written: [] as Uint8Array[], read: [] as Uint8Array[] }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const open: typeof fs.open = async (...args) => {
    const handle = await fs.open(...args);
    const record = { path: String(args[0]), closed: false };
    seen.handles.push(record);
    return new Proxy(handle, {
      get(target, property) {
        if (property === 'close') return () => ((record.closed = true), target.close());
        if (property === 'writeFile') return (data: Uint8Array) => (seen.written.push(data), target.writeFile(data));
        if (property === 'readFile') return async () => {
          const bytes = await target.readFile();
          seen.read.push(bytes);
          return bytes;
        };
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  };
  return { ...fs, default: { ...fs, open }, open };
});

const { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } = await import('node:fs/promises');
const { tmpdir } = await import('node:os');
const { join } = await import('node:path');
const { ready, PqcError } = await import('../../lib/index.js');
const { generateIdentity, loadIdentity, saveIdentity } = await import('../../lib/mesh/identity.js');
const { toHex } = await import('../support/environment.js');
const { recordSecretCopies } = await import('../support/secret-copies.js');

await ready();
const dir = await mkdtemp(join(tmpdir(), 'x0tta6bl4-identity-file-'));
afterAll(() => rm(dir, { recursive: true, force: true }));
const identity = await generateIdentity();
const MAGIC = Buffer.from('x0tta6bl4-pq identity 1\n');
const u16 = (n: number) => Buffer.of(n >>> 8, n & 0xff);
const zero = (bytes: Uint8Array) => bytes.every((byte) => byte === 0);

/** The file README describes, field by field. */
function identityFile(algorithm: string, publicKey: Uint8Array, secretKey: Uint8Array): Buffer {
  const name = Buffer.from(algorithm);
  return Buffer.concat([MAGIC, Buffer.of(name.length), name, u16(publicKey.length), publicKey, u16(secretKey.length), secretKey]);
}

async function failure(promise: Promise<unknown>, code: string): Promise<InstanceType<typeof PqcError>> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(PqcError);
  expect((error as InstanceType<typeof PqcError>).code).toBe(code);
  return error as InstanceType<typeof PqcError>;
}

function resetSeen(): void {
  seen.handles.length = 0;
  seen.written.length = 0;
  seen.read.length = 0;
}

afterEach(() => {
  vi.restoreAllMocks();
  resetSeen();
});

describe('saveIdentity', () => {
  it('writes the format of README, closes its file and wipes its copies of the secret key', async () => {
    const copies = recordSecretCopies();
    const path = join(dir, 'saved.key');
    await saveIdentity(path, identity);
    const expected = identityFile('ML-DSA-65', identity.publicKey, identity.secretKey);
    expect(toHex(await readFile(path))).toBe(toHex(expected));
    expect(seen.handles.length).toBe(1);
    expect(seen.handles.every((handle) => handle.closed)).toBe(true);
    expect(seen.written.length).toBe(1);
    expect(zero(seen.written[0]!)).toBe(true);
    expect(copies.length).toBeGreaterThan(0);
    copies.forEach((copy, i) => expect(zero(copy), `copy ${i} wiped`).toBe(true));
    // The caller's identity is not the copy.
    expect(zero(identity.secretKey)).toBe(false);
  });

  it('refuses a path it cannot write, with the cause, leaving no temporary file and no secret behind', async () => {
    const copies = recordSecretCopies();
    // A directory in the way: the temporary file is written, the rename over the directory fails.
    const parent = join(dir, 'blocked');
    const path = join(parent, 'node.key');
    await mkdir(path, { recursive: true });
    const error = await failure(saveIdentity(path, identity), 'ERR_PQC_INVALID_CONFIGURATION');
    const cause = error.cause as NodeJS.ErrnoException;
    expect(cause).toBeInstanceOf(Error);
    expect(cause.code).toBe('EISDIR');
    expect(error.message).toBe(`cannot write the identity file ${path}: ${cause.message}`);
    expect(await readdir(parent)).toEqual(['node.key']);
    expect(seen.handles.every((handle) => handle.closed)).toBe(true);
    expect(seen.written.every(zero)).toBe(true);
    copies.forEach((copy, i) => expect(zero(copy), `copy ${i} wiped`).toBe(true));

    const missing = join(dir, 'no-such-directory', 'node.key');
    const openError = await failure(saveIdentity(missing, identity), 'ERR_PQC_INVALID_CONFIGURATION');
    expect((openError.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect(openError.message).toBe(`cannot write the identity file ${missing}: ${(openError.cause as Error).message}`);
  });
});

describe('loadIdentity', () => {
  it('loads what saveIdentity wrote, closes the file and wipes the bytes it read', async () => {
    const path = join(dir, 'load.key');
    await saveIdentity(path, identity);
    resetSeen();
    const loaded = await loadIdentity(path);
    expect(toHex(loaded.secretKey)).toBe(toHex(identity.secretKey));
    expect(toHex(loaded.publicKey)).toBe(toHex(identity.publicKey));
    expect(seen.handles).toEqual([{ path, closed: true }]);
    expect(seen.read.length).toBe(1);
    expect(zero(seen.read[0]!)).toBe(true);
  });

  it('refuses a file its group or others may read, naming its mode, and closes it', async () => {
    const path = join(dir, 'open.key');
    await writeFile(path, identityFile('ML-DSA-65', identity.publicKey, identity.secretKey));
    for (const mode of [0o644, 0o640, 0o604, 0o660]) {
      await chmod(path, mode);
      resetSeen();
      const error = await failure(loadIdentity(path), 'ERR_PQC_INSECURE_KEY_FILE');
      expect(error.message).toBe(`the identity file ${path} has mode ${mode.toString(8)}: others may read it; chmod 600 it (and consider the key exposed)`);
      expect(seen.handles).toEqual([{ path, closed: true }]);
      expect(seen.read).toEqual([]);
    }
  });

  it('refuses a file it cannot open, with the cause', async () => {
    const path = join(dir, 'missing.key');
    const error = await failure(loadIdentity(path), 'ERR_PQC_INVALID_CONFIGURATION');
    const cause = error.cause as NodeJS.ErrnoException;
    expect(cause).toBeInstanceOf(Error);
    expect(cause.code).toBe('ENOENT');
    expect(error.message).toBe(`cannot read the identity file ${path}: ${cause.message}`);
  });

  it('refuses a file that is not in the format, saying which field is wrong, and wipes what it read', async () => {
    const { publicKey, secretKey } = identity;
    const valid = identityFile('ML-DSA-65', publicKey, secretKey);
    const cases: [string, Uint8Array, string][] = [
      ['short', Buffer.from('not a key'), `the identity file is truncated: the magic needs ${MAGIC.length} bytes, 9 left`],
      ['magic', Buffer.concat([Buffer.from('x0tta6bl4-pq identity 2\n'), valid.subarray(MAGIC.length)]), 'not an identity file'],
      ['no-algorithm', Buffer.concat([MAGIC, Buffer.of(0)]), 'the identity file: the algorithm must be 1 to 32 bytes, got 0'],
      ['long-algorithm', Buffer.concat([MAGIC, Buffer.of(33), Buffer.alloc(33, 0x41)]), 'the identity file: the algorithm must be 1 to 32 bytes, got 33'],
      ['no-public-key', Buffer.concat([MAGIC, Buffer.of(9), Buffer.from('ML-DSA-65'), u16(0)]), 'the identity file: the public key must be 1 to 65535 bytes, got 0'],
      ['no-secret-key', Buffer.concat([MAGIC, Buffer.of(9), Buffer.from('ML-DSA-65'), u16(publicKey.length), publicKey, u16(0)]), 'the identity file: the secret key must be 1 to 65535 bytes, got 0'],
      ['trailing', Buffer.concat([valid, Buffer.of(0)]), 'the identity file: 1 bytes after the last field'],
      ['algorithm', identityFile('ML-DSA-99', publicKey, secretKey), 'the identity algorithm must be one of ML-DSA-44, ML-DSA-65, ML-DSA-87, got ML-DSA-99'],
      ['secret-length', identityFile('ML-DSA-65', publicKey, secretKey.subarray(1)), 'identity.secretKey must be a ML-DSA-65 secret key of 4032 bytes'],
    ];
    for (const [name, bytes, reason] of cases) {
      const path = join(dir, `${name}.key`);
      await writeFile(path, bytes, { mode: 0o600 });
      resetSeen();
      const error = await failure(loadIdentity(path), 'ERR_PQC_INVALID_CONFIGURATION');
      expect(error.message, name).toBe(`${path} is not a valid identity file: ${reason}`);
      expect(seen.read.every(zero), `${name}: the bytes read are wiped`).toBe(true);
      expect(seen.handles.every((handle) => handle.closed)).toBe(true);
    }
  });
});
