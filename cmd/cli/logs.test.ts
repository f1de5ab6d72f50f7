import { describe, expect, it } from 'vitest';
import { LogStream } from '../../proto/gen/logs.js';
import { Service } from '../../proto/gen/objects.js';
import { formatLogLine, LogResume, logOptionsFrom, sinceTime, taskPrefix } from './logs.js';
import { parseArgs } from './flags.js';
import { logsFlags } from './logs.js';

const replicated = (name: string, replicas: number): Service =>
  Service.fromPartial({ spec: { annotations: { name }, mode: { $case: 'replicated', replicated: { replicas } } } });
const msg = { taskId: '3m4x1u0ocq7lzzzzzzzzzzzzz', serviceId: 'svc1', nodeId: 'node1', slot: 1 };
const ids = { taskIds: true, noTrunc: false };

describe('log prefixes', () => {
  it('are docker’s: service.slot.taskid@host, the slot padded to the widest replica number', () => {
    expect(taskPrefix(msg, replicated('web', 12), 'w1', ids)).toBe('web.1.3m4x1u0ocq7l@w1 ');
    expect(taskPrefix({ ...msg, slot: 10 }, replicated('web', 12), 'w1', ids)).toBe('web.10.3m4x1u0ocq7l@w1');
    expect(taskPrefix(msg, replicated('web', 2), 'w1', { taskIds: true, noTrunc: true })).toBe('web.1.3m4x1u0ocq7lzzzzzzzzzzzzz@w1');
    expect(taskPrefix(msg, replicated('web', 2), 'w1', { taskIds: false, noTrunc: false })).toBe('web.1@w1');
    // A global service's task is named by its node; a removed service by its id.
    expect(taskPrefix({ ...msg, slot: 0 }, undefined, 'w1', { taskIds: false, noTrunc: false })).toBe('svc1.node1@w1');
  });

  it('put the timestamp first with --timestamps and end every line with a newline', () => {
    const line = { time: '2024-01-01T00:00:00.000000001Z', data: Buffer.from('hello\n') };
    expect(formatLogLine('web.1@w1', line, false)).toBe('web.1@w1    | hello\n');
    expect(formatLogLine('web.1@w1', line, true)).toBe('2024-01-01T00:00:00.000000001Z web.1@w1    | hello\n');
    expect(formatLogLine('web.1@w1', { ...line, data: Buffer.from('piece') }, false)).toBe('web.1@w1    | piece\n');
  });
});

describe('logs flags', () => {
  const parse = (...argv: string[]) => ({ flags: parseArgs([...logsFlags], argv).flags });
  const now = Date.parse('2024-06-01T12:00:00Z');

  it('take --tail N|all, -f and --since as a time or a duration', () => {
    expect(logOptionsFrom(parse(), now)).toEqual({ follow: false, tail: -1, since: '' });
    expect(logOptionsFrom(parse('-f', '--tail', '5', '--since', '1h30m'), now)).toEqual({ follow: true, tail: 5, since: '2024-06-01T10:30:00.000Z' });
    expect(logOptionsFrom(parse('--tail', 'all', '--since', '2024-01-02T13:23:37.5+01:00'), now).since).toBe('2024-01-02T13:23:37.5+01:00');
  });

  it('refuse a bad --tail or --since with a usage error', () => {
    expect(() => logOptionsFrom(parse('--tail', '-1'), now)).toThrow(/invalid --tail "-1"/);
    expect(() => sinceTime('yesterday', now)).toThrow(/invalid --since "yesterday"/);
  });
});

describe('LogResume', () => {
  const line = (time: string, text: string, taskId = 't1') => ({ taskId, stream: LogStream.LOG_STREAM_STDOUT, time, data: Buffer.from(text) });

  it('admits each line once per task, and after a resume nothing a task printed already', () => {
    const resume = new LogResume();
    const original = { follow: true, tail: 10, since: '' };
    expect(resume.resumeOptions(original)).toBe(original);
    expect(resume.admit(line('2026-11-28T10:00:00.5Z', 'a'))).toBe(true);
    expect(resume.admit(line('2026-11-28T10:00:00.500000001Z', 'b'))).toBe(true);
    // Another task's line, older than t1's newest: its node sent it later. Printed.
    expect(resume.admit(line('2026-11-28T10:00:00.2Z', 'x', 't2'))).toBe(true);
    // Resumed from the oldest of the tasks' newest lines, so that t2's later lines come too.
    expect(resume.resumeOptions(original)).toEqual({ follow: true, tail: -1, since: '2026-11-28T10:00:00.2Z' });
    // What the new stream sends again: each task's lines up to its newest nanosecond.
    expect(resume.admit(line('2026-11-28T10:00:00.2Z', 'x', 't2'))).toBe(false);
    expect(resume.admit(line('2026-11-28T10:00:00.5Z', 'a'))).toBe(false);
    expect(resume.admit(line('2026-11-28T10:00:00.500000001Z', 'b'))).toBe(false);
    // Another line of a task's newest nanosecond is new; so is the same text later on.
    expect(resume.admit(line('2026-11-28T10:00:00.500000001Z', 'c'))).toBe(true);
    expect(resume.admit(line('2026-11-28T10:00:00.3Z', 'y', 't2'))).toBe(true);
    expect(resume.admit(line('2026-11-28T10:00:01Z', 'b'))).toBe(true);
    // A line without a time cannot be placed: printed as it comes.
    expect(resume.admit(line('', 'c'))).toBe(true);
  });
});
