import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Installs Debian's prometheus package before the suite when promtool is missing (CI starts
 * with nothing), unless PQC_INSTALL_PROMETHEUS=0. Without root or passwordless sudo it cannot:
 * the tests that need it then skip, saying why (or fail under PQC_REQUIRE_PROMTOOL=1).
 */
export default function setup(): void {
  if (process.env.PQC_INSTALL_PROMETHEUS === '0' || spawnSync('promtool', ['--version']).status === 0) return;
  const script = fileURLToPath(new URL('../../scripts/install-prometheus.sh', import.meta.url));
  try {
    console.warn('[x0tta6bl4-pqc] promtool missing: installing Debian package prometheus (PQC_INSTALL_PROMETHEUS=0 skips this)');
    execFileSync('sh', [script], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 600_000 });
  } catch (error) {
    console.warn(`[x0tta6bl4-pqc] could not install prometheus: ${(error as Error).message.split('\n')[0]}`);
  }
}
