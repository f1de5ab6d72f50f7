import { describe, expect, it } from 'vitest';
import { ID_LENGTH, newId } from './ids.js';

describe('newId', () => {
  it('is 25 characters of [a-z0-9]', () => {
    for (let i = 0; i < 1000; i++) expect(newId()).toMatch(/^[a-z0-9]{25}$/);
    expect(ID_LENGTH).toBe(25);
  });

  it('does not repeat', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => newId()));
    expect(ids.size).toBe(10_000);
  });

  it('uses the whole alphabet (the bits are random, not a counter)', () => {
    const seen = new Set([...Array.from({ length: 200 }, () => newId()).join('')]);
    expect(seen.size).toBe(36);
  });
});
