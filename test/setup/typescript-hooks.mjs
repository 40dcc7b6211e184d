// Module hooks (see typescript-in-workers.mjs): a `.js` specifier in lib/ that names a file only
// its `.ts` source exists for resolves to the source, which loads compiled to JavaScript.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'rolldown/utils';

const lib = new URL('../../lib/', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  const relative = /^\.{1,2}\//.test(specifier) || specifier.startsWith('file:');
  const url = relative ? new URL(specifier, context.parentURL) : undefined;
  if (url && url.href.startsWith(lib) && url.pathname.endsWith('.js') && !existsSync(url)) {
    const source = new URL(url.href.replace(/\.js$/, '.ts'));
    if (existsSync(source)) return { url: source.href, format: 'module', shortCircuit: true };
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith(lib) || !url.endsWith('.ts')) return nextLoad(url, context);
  const path = fileURLToPath(url);
  const { code, errors } = transformSync(path, readFileSync(path, 'utf8'), { sourcemap: false });
  if (errors.length > 0) throw new Error(`${path}: ${errors.map((error) => error.message).join('; ')}`);
  return { format: 'module', source: code, shortCircuit: true };
}
