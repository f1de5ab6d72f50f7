import { describe, expect, it } from 'vitest';
import { parseImageConfig } from './image-config.js';

const rootfs = { type: 'layers', diff_ids: [] };
const parse = (doc: object) => parseImageConfig(Buffer.from(JSON.stringify(doc)), 'test').runtime;

describe('parseImageConfig', () => {
  it('reads StopSignal and Healthcheck (nanoseconds) from an image config', () => {
    const runtime = parse({
      config: { StopSignal: 'SIGQUIT', Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 5e9, Timeout: 2e9, StartPeriod: 0, Retries: 4 } },
      rootfs,
    });
    expect(runtime.stopSignal).toBe('SIGQUIT');
    expect(runtime.healthcheck).toEqual({ test: ['CMD-SHELL', 'true'], intervalMs: 5_000, timeoutMs: 2_000, startPeriodMs: undefined, retries: 4 });
    const malformed = parse({ config: { Healthcheck: { Test: 'no' } }, rootfs });
    expect([malformed.stopSignal, malformed.healthcheck]).toEqual(['', undefined]);
    const bare = parse({ rootfs });
    expect([bare.stopSignal, bare.healthcheck]).toEqual(['', undefined]);
  });
});
