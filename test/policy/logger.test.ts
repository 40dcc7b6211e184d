import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { SecretBytes } from '../../lib/bytes.js';
import { createJsonLogger, type Logger } from '../../lib/logger.js';
import { PQCFallbackHandler } from '../../lib/policy/fallback-handler.js';
import { captureLogger } from './support.js';

describe('logger', () => {
  it('writes one pino-style JSON object per line, with pino level numbers', () => {
    const { logger, lines } = captureLogger();
    logger.fatal({ event: 'x', n: 1 }, 'critical');
    logger.error({}, 'e');
    logger.warn({}, 'w');
    logger.info({}, 'i');
    logger.debug({}, 'd');
    expect(lines.every((line) => line.endsWith('\n') && !line.slice(0, -1).includes('\n'))).toBe(true);
    const records = lines.map((line) => JSON.parse(line));
    expect(records.map((r) => r.level)).toEqual([60, 50, 40, 30, 20]);
    expect(records[0]).toMatchObject({ event: 'x', n: 1, msg: 'critical', pid: process.pid });
    expect(typeof records[0].time).toBe('number');
    expect(typeof records[0].hostname).toBe('string');
  });

  it('drops lines below its level (info by default)', () => {
    const lines: string[] = [];
    const logger = createJsonLogger({ write: (line) => lines.push(line) });
    logger.debug({}, 'hidden');
    logger.info({}, 'shown');
    expect(lines.map((line) => JSON.parse(line).msg)).toEqual(['shown']);
  });

  it('never writes the content of a byte array, whatever its type or depth', () => {
    const { logger, lines } = captureLogger();
    const secret = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i);
    const hex = Buffer.from(secret).toString('hex');
    logger.error(
      { plain: secret, buffer: Buffer.from(secret), secret: SecretBytes.view(secret.slice()), nested: { deep: [secret] }, raw: secret.buffer },
      'bytes',
    );
    const line = lines[0]!;
    expect(line).not.toContain(hex);
    // Not in the line as a whole: its time and pid are digits too, and at times contain "161".
    const { time: _time, pid: _pid, ...logged } = JSON.parse(line) as Record<string, unknown>;
    expect(JSON.stringify(logged)).not.toContain(String(0xa0 + 1));
    expect(JSON.parse(line)).toMatchObject({ plain: '[32 bytes]', buffer: '[32 bytes]', nested: { deep: ['[32 bytes]'] }, raw: '[32 bytes]' });
  });

  it('writes an error as its type, message and code', () => {
    const { logger, records } = captureLogger();
    logger.error({ error: Object.assign(new Error('boom'), { code: 'E_X' }) }, 'failed');
    expect(records()[0]!.error).toEqual({ type: 'Error', message: 'boom', code: 'E_X' });
  });

  it('takes a real pino logger as it is', () => {
    const lines: string[] = [];
    const logger: Logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const handler = new PQCFallbackHandler({ logger, shutdown: () => {} });
    handler.enable('forced');
    handler.disable();
    const records = lines.map((line) => JSON.parse(line));
    expect(records.map((r) => [r.level, r.event])).toEqual([
      [60, 'pqc_fallback_enabled'],
      [40, 'pqc_fallback_disabled'],
    ]);
    expect(records[0]).toMatchObject({ reason: 'forced', ttlSeconds: 3600 });
  });
});
