import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { benchCommand, formatReport } from '../../lib/bench/bench-command.js';
import { UsageError } from '../../lib/command-options.js';
import { HYBRID_COLUMNS, PRIMITIVE_COLUMNS, type BenchReport } from '../../lib/bench/run-bench.js';
import { PRIMITIVE_ROWS, PRIMITIVE_SETTINGS } from '../../lib/bench/primitive-rows.js';
import { HANDSHAKE_SETTINGS } from '../../lib/bench/handshake.js';
import { CHANNEL_SETTINGS } from '../../lib/bench/channel.js';
import { environment } from '../support/environment.js';

const cli = new URL('../../dist/cli.js', import.meta.url).pathname;

/** The built CLI on exactly the backend (and liboqs) this suite runs on. */
function bench(args: string[]) {
  const env = environment.liboqs
    ? { X0TTA6BL4_PQC_BACKEND: 'native', X0TTA6BL4_LIBOQS_PATH: environment.liboqs.path }
    : { X0TTA6BL4_PQC_BACKEND: 'wasm' };
  const result = spawnSync(process.execPath, [cli, 'bench', ...args], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: 110_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const positive = (value: number | null) => typeof value === 'number' && Number.isFinite(value) && value > 0;
// X-Wing keys need ML-KEM key generation from a seed: liboqs 0.13 and later, not WebAssembly.
const xwing = environment.capabilities.kemKeypairDerand;

// --smoke runs every row of --quick once, briefly: the shape and sanity of the figures, not their size.
describe(`x0tta6bl4-pqc bench on the ${environment.backend} backend`, { timeout: 120_000 }, () => {
  let report: BenchReport;

  it('--smoke --json: one JSON object on stdout, every row measured, progress on stderr', () => {
    const { status, stdout, stderr } = bench(['--smoke', '--json']);
    expect(status, stderr).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    report = JSON.parse(stdout) as BenchReport;
    expect(report).toMatchObject({ backend: environment.backend, liboqs: environment.liboqs?.version ?? null, budget: 'smoke' });
    expect(report.wasm).toMatch(/^\d+\.\d+\.\d+$/);
    expect(report.absent.join('\n')).toMatch(/liboqs's own C speed[\s\S]*@noble\/post-quantum[\s\S]*npm run bench/);
    expect(report.seconds).toBeGreaterThan(0);
    // A line per step when stderr is not a TTY, the last one naming the last step.
    expect(stderr.trim().split('\n').at(-1)).toBe('bench [22/22] channel, 65536-byte records');

    expect(report.primitives).toMatchObject({ rounds: PRIMITIVE_SETTINGS.smoke.rounds, batch: PRIMITIVE_SETTINGS.smoke.batch });
    expect(report.primitives.rows.map((row) => `${row.algorithm} ${row.operation}`)).toEqual(PRIMITIVE_ROWS.map((row) => `${row.algorithm} ${row.operation}`));
    for (const row of report.primitives.rows) {
      const label = `${row.algorithm} ${row.operation}`;
      expect(Object.keys(row.us), label).toEqual([...PRIMITIVE_COLUMNS]);
      for (const column of ['sync', 'async', 'batch'] as const) expect(positive(row.us[column]), `${label} ${column}`).toBe(true);
      expect(row.us.into === null, label).toBe(row.algorithm.startsWith('ML-DSA'));
      // The WebAssembly column only beside the native backend: on WebAssembly, sync is that backend.
      expect(row.us.wasm === null, label).toBe(environment.backend !== 'native');
      expect(row.ratios.nativeOverWasm === null, label).toBe(environment.backend !== 'native');
      for (const ratio of Object.values(row.ratios).filter((r) => r !== null)) expect(positive(ratio), label).toBe(true);
      // Each ratio is of this row's own figures, as rounded in the JSON.
      expect(row.ratios.asyncOverSync, label).toBeCloseTo(row.us.async! / row.us.sync!, 1);
    }

    const kems = report.hybrids.rows.map((row) => `${row.kem} ${row.operation}`);
    expect(kems).toEqual([...(xwing ? ['X-Wing encaps', 'X-Wing decaps', 'X-Wing decaps-seed'] : []), 'X25519MLKEM768 encaps', 'X25519MLKEM768 decaps']);
    expect(report.hybrids.skipped.map((s) => s.kem)).toEqual(xwing ? [] : ['X-Wing']);
    for (const row of report.hybrids.rows) {
      expect(Object.keys(row.us)).toEqual([...HYBRID_COLUMNS]);
      for (const value of [...Object.values(row.us), ...Object.values(row.ratios)]) expect(positive(value), row.label).toBe(true);
    }

    const { handshake } = report;
    expect(handshake.suite).toBe(xwing ? 'XWING-MLDSA65' : 'X25519MLKEM768-MLDSA65');
    expect(handshake.handshakes).toBe(HANDSHAKE_SETTINGS.smoke.handshakes);
    for (const p of Object.values(handshake.ms)) {
      expect(positive(p.p50) && positive(p.mean)).toBe(true);
      expect(p.p50).toBeLessThanOrEqual(p.p95);
      expect(p.p95).toBeLessThanOrEqual(p.p99);
    }
    expect(positive(handshake.ratios.handshakeOverPrimitives)).toBe(true);

    expect(report.channel.suite).toBe(handshake.suite);
    expect(report.channel.rows.map((row) => row.recordBytes)).toEqual(CHANNEL_SETTINGS.smoke.sizes);
    for (const row of report.channel.rows) {
      expect(positive(row.mbPerSecond.channel) && positive(row.mbPerSecond.aesGcm) && positive(row.ratios.channelOverAesGcm)).toBe(true);
    }
  });

  it('the text report has a row per measurement and says which backend it measured', () => {
    expect(report, 'the --json run above').toBeDefined();
    const text = formatReport(report);
    expect(text.split('\n')[0]).toContain(environment.backend === 'native' ? `native backend (liboqs ${environment.liboqs!.version})` : 'WebAssembly backend');
    expect(text).toContain('not measured here: ');
    for (const row of report.primitives.rows) expect(text).toMatch(new RegExp(`^\\| ${row.algorithm} +\\| ${row.operation} +\\|`, 'm'));
    for (const row of report.hybrids.rows) expect(text).toContain(`| ${row.label} `);
    for (const s of report.hybrids.skipped) expect(text).toContain(`- ${s.kem} not measured: ${s.reason}`);
    expect(text).toMatch(/^\| full handshake +\|/m);
    expect(text).toMatch(/^\| 64 KiB +\|/m);
  });

  it("README's JSON example has the fields the command prints", () => {
    expect(report, 'the --json run above').toBeDefined();
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('### Benchmarks: `x0tta6bl4-pqc bench`'));
    const example = /```json\n([\s\S]*?)\n```/.exec(section)![1]!;
    // Keys all the way down; an array by its first element, when both have one.
    const shape = (value: unknown, other: unknown): unknown => {
      if (Array.isArray(value)) return value.length && Array.isArray(other) && other.length ? [shape(value[0], other[0])] : [];
      if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, shape(v, (other as Record<string, unknown>)?.[key])]));
      return 'leaf';
    };
    const documented = JSON.parse(example) as unknown;
    expect(shape(documented, report)).toEqual(shape(report, documented));
  });

  it('--help prints the usage and exits 0', () => {
    const { status, stdout, stderr } = bench(['--help']);
    expect(status).toBe(0);
    expect(stdout).toMatch(/^usage: x0tta6bl4-pqc bench \[--quick \| --smoke\] \[--json\]$/m);
    expect(stderr).toBe('');
  });

  it('a line it cannot run: exit 2, the reason and the usage on stderr, nothing measured', () => {
    const { status, stdout, stderr } = bench(['--bogus']);
    expect(status).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.split('\n')[0]).toBe('x0tta6bl4-pqc bench: bench does not take --bogus');
    expect(stderr).toMatch(/^usage: x0tta6bl4-pqc bench/m);
  });

  it('names what it cannot take, in its own words', async () => {
    for (const [args, reason] of [
      [['--json=yes'], '--json takes no value'],
      [['now'], 'bench takes options only, got "now"'],
      [['-j'], 'bench does not take -j'],
      [['--quick', '--smoke'], 'bench takes --quick or --smoke, not both'],
    ] as const) {
      const refused = await benchCommand([...args]).then(() => undefined, (error: unknown) => error);
      expect(refused, args.join(' ')).toBeInstanceOf(UsageError);
      expect((refused as UsageError).message).toBe(reason);
    }
  });
});
