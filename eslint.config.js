import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'proto/gen/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    // The CLI, benchmarks and the simulator's command line talk to a person on stdout.
    files: ['cmd/**/*.ts', 'bench/**/*.ts', 'src/raft/sim/cli.ts', 'scripts/**'],
    rules: { 'no-console': 'off' },
  },
);
