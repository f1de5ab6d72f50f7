import { describe, expect, it } from 'vitest';
import { ServiceSpec } from '../../../proto/gen/objects.js';
import { sameServiceSpec } from './spec-equality.js';
import { DEFAULT_UPDATE_CONFIG } from './spec-defaults.js';

const base = (): ServiceSpec =>
  ServiceSpec.fromPartial({
    annotations: { name: 'web', labels: { a: '1', b: '2' } },
    task: { container: { image: 'nginx', labels: { x: '1', y: '2' } } },
    mode: { $case: 'replicated', replicated: { replicas: 2 } },
    update: { ...DEFAULT_UPDATE_CONFIG, maxFailureRatio: 0.1 },
  });

describe('sameServiceSpec', () => {
  it('ignores the order of map entries', () => {
    const reordered = base();
    reordered.annotations!.labels = { b: '2', a: '1' };
    reordered.task!.container!.labels = { y: '2', x: '1' };
    expect(sameServiceSpec(base(), reordered)).toBe(true);
  });

  it('sees a spec read back from the wire as the same spec', () => {
    const decoded = ServiceSpec.decode(ServiceSpec.encode(base()).finish());
    expect(decoded.update?.maxFailureRatio).toBe(0.1);
    expect(sameServiceSpec(base(), decoded)).toBe(true);
  });

  it('sees any real change', () => {
    const scaled = base();
    scaled.mode = { $case: 'replicated', replicated: { replicas: 3 } };
    const relabelled = base();
    relabelled.task!.container!.labels = { x: '1' };
    const forced = base();
    forced.task!.forceUpdate = 1;
    for (const other of [scaled, relabelled, forced]) expect(sameServiceSpec(base(), other)).toBe(false);
  });
});
