/**
 * `--fake-config FILE`: how the fake executor behaves, as JSON, so tests and demos can run real
 * worker processes with slow starts and failing images:
 *
 *   { "prepareDelay": "500ms", "startDelay": "1s", "healthyAfter": "2s",
 *     "behaviours": [ { "image": "app:bad", "exitAfter": "1s", "exitCode": 3 },
 *                     { "imagePattern": "^broken:", "failStart": "exec format error" } ] }
 *
 * Durations are docker's (`500ms`, `1m30s`). Unknown keys are refused, so a typo is not silently
 * ignored.
 */
import type { FakeBehaviour, FakeExecutorOptions } from '../../src/agent/fake-executor.js';
import { parseDuration } from '../cli/units.js';

export type FakeConfig = Pick<FakeExecutorOptions, 'prepareDelayMs' | 'startDelayMs' | 'healthyAfterMs' | 'behaviours'>;

export class FakeConfigError extends Error {}

const TOP_KEYS = ['prepareDelay', 'startDelay', 'healthyAfter', 'behaviours'];
const BEHAVIOUR_KEYS = ['image', 'imagePattern', 'failPrepare', 'failStart', 'exitAfter', 'exitCode', 'unhealthyAfter', 'ignoreSigterm'];

export function parseFakeConfig(text: string): FakeConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new FakeConfigError(`not JSON: ${(err as Error).message}`);
  }
  const top = objectAt(json, 'the configuration', TOP_KEYS);
  const behaviours = top.behaviours;
  if (behaviours !== undefined && !Array.isArray(behaviours)) throw new FakeConfigError('behaviours: expected a list');
  return {
    prepareDelayMs: durationAt(top, 'prepareDelay', ''),
    startDelayMs: durationAt(top, 'startDelay', ''),
    healthyAfterMs: durationAt(top, 'healthyAfter', ''),
    behaviours: (behaviours ?? []).map((b: unknown, i: number) => parseBehaviour(b, `behaviours[${i}]`)),
  };
}

function parseBehaviour(value: unknown, where: string): FakeBehaviour {
  const b = objectAt(value, where, BEHAVIOUR_KEYS);
  const image = stringAt(b, 'image', where);
  const pattern = stringAt(b, 'imagePattern', where);
  if ((image === undefined) === (pattern === undefined)) throw new FakeConfigError(`${where}: give exactly one of image and imagePattern`);
  let matcher: string | RegExp;
  try {
    matcher = image ?? new RegExp(pattern!);
  } catch (err) {
    throw new FakeConfigError(`${where}.imagePattern: ${(err as Error).message}`);
  }
  const exitCode = b.exitCode;
  if (exitCode !== undefined && !(Number.isInteger(exitCode) && (exitCode as number) >= 0 && (exitCode as number) <= 255)) {
    throw new FakeConfigError(`${where}.exitCode: expected an integer from 0 to 255`);
  }
  const ignoreSigterm = b.ignoreSigterm;
  if (ignoreSigterm !== undefined && typeof ignoreSigterm !== 'boolean') throw new FakeConfigError(`${where}.ignoreSigterm: expected true or false`);
  return {
    image: matcher,
    failPrepare: stringAt(b, 'failPrepare', where),
    failStart: stringAt(b, 'failStart', where),
    exitAfterMs: durationAt(b, 'exitAfter', where),
    exitCode: exitCode as number | undefined,
    unhealthyAfterMs: durationAt(b, 'unhealthyAfter', where),
    ignoreSigterm,
  };
}

function objectAt(value: unknown, where: string, allowed: string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new FakeConfigError(`${where}: expected an object`);
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!allowed.includes(key)) throw new FakeConfigError(`${where}: unknown key "${key}" (known: ${allowed.join(', ')})`);
  }
  return record;
}

function stringAt(record: Record<string, unknown>, key: string, where: string): string | undefined {
  const value = record[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new FakeConfigError(`${where ? `${where}.` : ''}${key}: expected a string`);
  return value;
}

function durationAt(record: Record<string, unknown>, key: string, where: string): number | undefined {
  const text = stringAt(record, key, where);
  if (text === undefined) return undefined;
  try {
    return parseDuration(text);
  } catch (err) {
    throw new FakeConfigError(`${where ? `${where}.` : ''}${key}: ${(err as Error).message}`);
  }
}
