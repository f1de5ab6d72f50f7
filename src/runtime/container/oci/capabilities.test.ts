import { describe, expect, it } from 'vitest';
import { capabilityByName, containerCapabilities, DEFAULT_CAPABILITIES, unknownCapabilities } from './capabilities.js';

const DEFAULTS_IN_KERNEL_ORDER = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SYS_CHROOT', 'CAP_MKNOD', 'CAP_AUDIT_WRITE', 'CAP_SETFCAP',
];

describe('capabilities', () => {
  it('knows names with or without CAP_, in any case', () => {
    expect(capabilityByName('net_admin')).toBe('CAP_NET_ADMIN');
    expect(capabilityByName('CAP_SYS_ADMIN')).toBe('CAP_SYS_ADMIN');
    expect(capabilityByName('Cap_Bpf')).toBe('CAP_BPF');
    expect(capabilityByName('CAP_')).toBeUndefined();
    expect(unknownCapabilities(['ALL', 'all', 'chown', 'CAP_FLY', 'root'])).toEqual(['CAP_FLY', 'root']);
  });

  it("gives Docker's fourteen by default, in kernel order", () => {
    expect(DEFAULT_CAPABILITIES).toHaveLength(14);
    expect(containerCapabilities([], [])).toEqual(DEFAULTS_IN_KERNEL_ORDER);
  });

  it('drops and adds on top of the defaults; an add wins over a drop of the same', () => {
    const caps = containerCapabilities(['NET_ADMIN', 'sys_time'], ['NET_RAW', 'CAP_MKNOD', 'SYS_TIME']);
    expect(caps).toContain('CAP_NET_ADMIN');
    expect(caps).toContain('CAP_SYS_TIME');
    expect(caps).not.toContain('CAP_NET_RAW');
    expect(caps).not.toContain('CAP_MKNOD');
    expect(caps).toHaveLength(14);
  });

  it('drop ALL keeps only what is added; add ALL keeps all the kernel knows but the dropped', () => {
    expect(containerCapabilities(['kill', 'chown'], ['ALL'])).toEqual(['CAP_CHOWN', 'CAP_KILL']);
    expect(containerCapabilities([], ['all'])).toEqual([]);
    const all = containerCapabilities(['ALL'], ['SYS_ADMIN']);
    expect(all).toHaveLength(40);
    expect(all).not.toContain('CAP_SYS_ADMIN');
    expect(all.at(-1)).toBe('CAP_CHECKPOINT_RESTORE');
    // A 5.4 kernel's last is CAP_AUDIT_READ (37).
    expect(containerCapabilities(['ALL'], [], 37).at(-1)).toBe('CAP_AUDIT_READ');
  });
});
