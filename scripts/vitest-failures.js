// Prints what failed in a vitest JSON report: each failing file's own error (a hook that threw, a
// file that would not load) and each failing test's first lines. test-all.sh prints it last, so
// that the end of a long CI log, often all that is kept, says what broke and not only how many.
import { readFileSync } from 'node:fs';
import { argv, stdout } from 'node:process';

const MAX_LINES = 12;
const report = JSON.parse(readFileSync(argv[2], 'utf8'));
const print = (line) => stdout.write(`${line}\n`);
const excerpt = (text) => text.split('\n').slice(0, MAX_LINES).map((l) => `    ${l}`).join('\n');

for (const file of report.testResults) {
  if (file.status !== 'failed') continue;
  const skipped = file.assertionResults.filter((t) => t.status === 'skipped' || t.status === 'pending').length;
  print(`FAILED ${file.name}${skipped > 0 ? ` (${skipped} tests not run)` : ''}`);
  if (file.message) print(excerpt(file.message));
  for (const test of file.assertionResults) {
    if (test.status !== 'failed') continue;
    print(`  test: ${test.fullName}`);
    for (const message of test.failureMessages) print(excerpt(message));
  }
}
