import { describe, expect, it } from 'vitest';
import { liboqsCandidates } from '../lib/native/liboqs-search.js';

describe('where liboqs is looked for', () => {
  const search = (env: Record<string, string>, platform: NodeJS.Platform = 'linux', dirs: string[] = []) =>
    liboqsCandidates({ env, platform, isDirectory: (path) => dirs.includes(path) });

  it('asks the dynamic loader for each SONAME, newest first, then the unversioned name', () => {
    expect(search({})).toEqual(['liboqs.so.9', 'liboqs.so.8', 'liboqs.so.7', 'liboqs.so', 'liboqs.so.6', 'liboqs.so.5']);
  });

  it('tries X0TTA6BL4_LIBOQS_PATH first when it names a file', () => {
    const candidates = search({ X0TTA6BL4_LIBOQS_PATH: '/opt/oqs/lib/liboqs.so.0.16.0' });
    expect(candidates[0]).toBe('/opt/oqs/lib/liboqs.so.0.16.0');
    expect(candidates.slice(1)).toEqual(search({}));
  });

  it('expands a directory to itself, lib and lib64, each with every name', () => {
    const candidates = search({ X0TTA6BL4_LIBOQS_PATH: '/opt/oqs' }, 'linux', ['/opt/oqs']);
    expect(candidates.slice(0, 3)).toEqual(['/opt/oqs/liboqs.so.9', '/opt/oqs/liboqs.so.8', '/opt/oqs/liboqs.so.7']);
    expect(candidates).toContain('/opt/oqs/lib/liboqs.so.7');
    expect(candidates).toContain('/opt/oqs/lib64/liboqs.so');
    expect(candidates.indexOf('/opt/oqs/lib64/liboqs.so.5')).toBeLessThan(candidates.indexOf('liboqs.so.9'));
  });

  it('ignores an empty setting and uses macOS names on darwin', () => {
    expect(search({ X0TTA6BL4_LIBOQS_PATH: '  ' })).toEqual(search({}));
    expect(search({}, 'darwin')).toEqual(['liboqs.9.dylib', 'liboqs.8.dylib', 'liboqs.7.dylib', 'liboqs.dylib']);
  });
});
