import { describe, expect, it } from 'vitest';
import { environment, liboqsVersion, native, NATIVE_SKIP, requireNative, runInChild } from './support/environment.js';
import { liboqsMissingSymbols, liboqsTooOld, notLiboqs } from './support/old-liboqs.js';

/** A liboqs directory from this process's loader path, to hand to children explicitly. */
const nativeLibDir = environment.liboqs?.path.replace(/\/[^/]+$/, '');
const tooOld = liboqsTooOld();
const notOqs = notLiboqs();
const incomplete = liboqsMissingSymbols();

/** The error of loading the native backend from `path` alone, in a fresh process. */
function nativeLoadError(path: string): { code: string; message: string } {
  const { stdout, stderr } = runInChild(
    `try { new pqc.Kem('ML-KEM-768'); console.log('{}'); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`,
    { LD_LIBRARY_PATH: '', X0TTA6BL4_LIBOQS_PATH: path, X0TTA6BL4_PQC_BACKEND: 'native' },
  );
  expect(stdout, stderr).not.toBe('');
  return JSON.parse(stdout);
}

const describeInfo = 'console.log(JSON.stringify(pqc.info()));';
const nothingOnTheLoaderPath = { LD_LIBRARY_PATH: '', X0TTA6BL4_LIBOQS_PATH: '/nonexistent/liboqs' };

describe('the run environment', () => {
  if (!native) console.warn(`[x0tta6bl4-pqc] native-only tests are skipped: ${NATIVE_SKIP}`);

  it.skipIf(!requireNative)('PQC_REQUIRE_NATIVE=1 demands the native backend (runs only under PQC_REQUIRE_NATIVE=1)', () => {
    expect(environment.backend, environment.nativeUnavailable?.message).toBe('native');
  });

  it.skipIf(!native)(`the native liboqs reports the capabilities its release has, so capability skips are honest (needs a native liboqs${native ? '' : `; skipped: ${NATIVE_SKIP}`})`, () => {
    const [, minor] = liboqsVersion()!;
    expect(environment.capabilities.kemKeypairDerand).toBe(minor >= 13);
    expect(environment.capabilities.kemEncapsDerand).toBe(minor >= 15);
    expect(environment.capabilities.sigContext).toBe(true);
  });
});

describe('backend selection (each case in a fresh process)', () => {
  it('falls back to WebAssembly when no liboqs can be found, and says why', () => {
    const { status, stdout, stderr } = runInChild(describeInfo, nothingOnTheLoaderPath);
    expect(status, stderr).toBe(0);
    const info = JSON.parse(stdout);
    expect(info.backend).toBe('wasm');
    expect(info.liboqs).toBeNull();
    expect(info.kems).toContain('ML-KEM-768');
    expect(info.sigs).toContain('ML-DSA-65');
    expect(info.nativeUnavailable.code).toBe('ERR_PQC_LIBOQS_NOT_FOUND');
  });

  it('X0TTA6BL4_PQC_BACKEND=native with no liboqs fails with a message that lists where it looked and how to fix it', () => {
    const { status, stdout, stderr } = runInChild(
      `try { new pqc.Kem('ML-KEM-768'); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`,
      { ...nothingOnTheLoaderPath, X0TTA6BL4_PQC_BACKEND: 'native' },
    );
    expect(status, stderr).toBe(0);
    const error = JSON.parse(stdout);
    expect(error.code).toBe('ERR_PQC_LIBOQS_NOT_FOUND');
    expect(error.message).toContain('/nonexistent/liboqs');
    expect(error.message).toContain('liboqs.so.9');
    expect(error.message).toContain('liboqs.so.7');
    expect(error.message).toContain('X0TTA6BL4_LIBOQS_PATH');
    expect(error.message).toMatch(/dnf install liboqs/);
  });

  it('in production, no object quietly runs on WebAssembly: without a liboqs, Kem and Sig refuse unless X0TTA6BL4_ALLOW_WASM_PQC=true', () => {
    const body = `const codes = [];
      for (const make of [() => new pqc.Kem('ML-KEM-768'), () => new pqc.Sig('ML-DSA-65'), () => new pqc.Kem('X-Wing'), () => new pqc.Kem('ML-KEM-768', { backend: 'wasm' })]) {
        try { codes.push(make().backend); } catch (e) { codes.push(e.code); }
      }
      console.log(JSON.stringify(codes));`;
    const refused = runInChild(body, { ...nothingOnTheLoaderPath, X0TTA6BL4_PRODUCTION: 'true' });
    expect(JSON.parse(refused.stdout), refused.stderr).toEqual(Array(4).fill('ERR_PQC_PRODUCTION_REQUIRES_LIBOQS'));
    const allowed = runInChild(body, { ...nothingOnTheLoaderPath, X0TTA6BL4_PRODUCTION: 'true', X0TTA6BL4_ALLOW_WASM_PQC: 'true' });
    expect(JSON.parse(allowed.stdout), allowed.stderr).toEqual(Array(4).fill('wasm'));
  });

  it('an unknown X0TTA6BL4_PQC_BACKEND is refused', () => {
    const { stdout } = runInChild(
      `try { new pqc.Kem('ML-KEM-768'); } catch (e) { console.log(e.code); }`,
      { X0TTA6BL4_PQC_BACKEND: 'quantum' },
    );
    expect(stdout.trim()).toBe('ERR_PQC_UNSUPPORTED_BACKEND');
  });

  it('X0TTA6BL4_PQC_BACKEND=wasm uses WebAssembly even with a liboqs present, and a sync call before ready() is ERR_PQC_NOT_READY', () => {
    const { status, stdout, stderr } = runInChild(
      `const kem = new pqc.Kem('ML-KEM-512');
       let early; try { kem.generateKeyPair(); } catch (e) { early = e.code; }
       const pair = await kem.generateKeyPairAsync();
       const { ciphertext, sharedSecret } = kem.encapsulate(pair.publicKey);
       const same = Buffer.from(kem.decapsulate(ciphertext, pair.secretKey)).equals(Buffer.from(sharedSecret));
       console.log(JSON.stringify({ backend: pqc.info().backend, early, same }));`,
      { LD_LIBRARY_PATH: nativeLibDir ?? '', X0TTA6BL4_PQC_BACKEND: 'wasm' },
    );
    expect(status, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ backend: 'wasm', early: 'ERR_PQC_NOT_READY', same: true });
  });

  it.skipIf(!native)(`X0TTA6BL4_LIBOQS_PATH finds liboqs off the loader path (needs a native liboqs${native ? '' : `; skipped: ${NATIVE_SKIP}`})`, () => {
    for (const setting of [nativeLibDir!, environment.liboqs!.path]) {
      const { status, stdout, stderr } = runInChild(describeInfo, { LD_LIBRARY_PATH: '', X0TTA6BL4_LIBOQS_PATH: setting });
      expect(status, stderr).toBe(0);
      const info = JSON.parse(stdout);
      expect(info.backend).toBe('native');
      expect(info.liboqs.version).toBe(environment.liboqs!.version);
    }
  });

  it.skipIf(!tooOld.path)(
    `refuses liboqs older than 0.12 with ERR_PQC_LIBOQS_TOO_OLD (fixture: ${tooOld.description}${tooOld.missing ? `; skipped: ${tooOld.missing}` : ''})`,
    () => {
      const error = nativeLoadError(tooOld.path!);
      expect(error.code).toBe('ERR_PQC_LIBOQS_TOO_OLD');
      expect(error.message).toContain('0.11.0');
      expect(error.message).toContain('0.12.0');
      expect(error.message).toContain('X0TTA6BL4_LIBOQS_PATH');
    },
  );

  it.skipIf(!notOqs.path)(`names a library that is not liboqs as such, among the places tried${notOqs.missing ? ` (skipped: ${notOqs.missing})` : ''}`, () => {
    const error = nativeLoadError(notOqs.path!);
    expect(error.code).toBe('ERR_PQC_LIBOQS_NOT_FOUND');
    expect(error.message).toContain(`${notOqs.path}: not a liboqs library (no OQS_version symbol)`);
  });

  it.skipIf(!incomplete.path)(`names the first missing symbol of a library that claims 0.12 but lacks liboqs's API${incomplete.missing ? ` (skipped: ${incomplete.missing})` : ''}`, () => {
    const error = nativeLoadError(incomplete.path!);
    expect(error.code).toBe('ERR_PQC_LIBOQS_NOT_FOUND');
    expect(error.message).toContain(`${incomplete.path}: liboqs 0.12.0 lacks the symbol OQS_init`);
  });
});
