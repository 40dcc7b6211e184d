import { statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Where to look for liboqs, in order. Pure apart from one stat of X0TTA6BL4_LIBOQS_PATH, so
 * that tests can fake the environment and platform.
 */

// Newest first: a machine with two releases gets the newest. .so.6 (0.11) and .so.5 (0.10)
// are looked for only to say they are too old rather than "not found".
const LINUX_NAMES = ['liboqs.so.9', 'liboqs.so.8', 'liboqs.so.7', 'liboqs.so', 'liboqs.so.6', 'liboqs.so.5'];
const DARWIN_NAMES = ['liboqs.9.dylib', 'liboqs.8.dylib', 'liboqs.7.dylib', 'liboqs.dylib'];

export interface SearchEnvironment {
  env: Record<string, string | undefined>;
  platform: NodeJS.Platform;
  isDirectory?: (path: string) => boolean;
}

export function libraryNames(platform: NodeJS.Platform): string[] {
  return platform === 'darwin' ? DARWIN_NAMES : LINUX_NAMES;
}

function directoryExists(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * X0TTA6BL4_LIBOQS_PATH first (a library file, an install prefix or its lib directory), then
 * each known name through the dynamic loader's own search (ld.so.cache, LD_LIBRARY_PATH, …).
 */
export function liboqsCandidates({ env, platform, isDirectory = directoryExists }: SearchEnvironment): string[] {
  const names = libraryNames(platform);
  const candidates: string[] = [];
  const configured = env.X0TTA6BL4_LIBOQS_PATH?.trim();
  if (configured) {
    if (isDirectory(configured)) {
      for (const dir of [configured, join(configured, 'lib'), join(configured, 'lib64')]) {
        candidates.push(...names.map((name) => join(dir, name)));
      }
    } else {
      candidates.push(configured);
    }
  }
  candidates.push(...names);
  return candidates;
}

export const LIBOQS_INSTALL_HINT = [
  'Install liboqs 0.12.0 or newer as a shared library:',
  '  Fedora/RHEL: dnf install liboqs   Alpine: apk add liboqs   Arch: pacman -S liboqs',
  '  Homebrew: brew install liboqs     Debian/Ubuntu: build it from source',
  '  (https://github.com/open-quantum-safe/liboqs, cmake -DBUILD_SHARED_LIBS=ON)',
  'or point X0TTA6BL4_LIBOQS_PATH at the library file or its install prefix.',
].join('\n');
