// Compiles one of the benchmarks' C files (scripts/*.c, which include csrc/oqs_prefix.h) into a
// temporary directory removed at exit. Throws an Error that says what is missing.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** `name` is the source's base name in scripts/; `libraries` are linker flags (e.g. -lcrypto). */
export function compileC(name, libraries = []) {
  const source = path.join(root, 'scripts', `${name}.c`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `x0tta6bl4-pqc-${name}-`));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const binary = path.join(dir, name);
  const cc = process.env.CC || 'cc';
  try {
    execFileSync(cc, ['-O2', '-I', path.join(root, 'csrc'), '-o', binary, source, '-ldl', ...libraries], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (error) {
    const why = error.code === 'ENOENT' ? `no C compiler (${cc}) on PATH` : String(error.stderr || error.message).trim();
    throw new Error(`cannot compile scripts/${name}.c with ${cc}: ${why}`);
  }
  return binary;
}
