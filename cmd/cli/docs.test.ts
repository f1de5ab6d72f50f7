import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { groups } from './app.js';

// docs/cli.md is the CLI reference: it must not fall behind the commands and flags that exist.
const docs = readFileSync('docs/cli.md', 'utf8');

describe('docs/cli.md', () => {
  for (const group of groups) {
    for (const command of group.commands) {
      it(`documents shoal ${group.name} ${command.name} and its flags`, () => {
        expect(docs).toContain(`shoal ${group.name} ${command.name}`);
        for (const flag of command.flags) expect(docs, `--${flag.name}`).toMatch(new RegExp(`--${flag.name}\\b`));
      });
    }
  }
});
