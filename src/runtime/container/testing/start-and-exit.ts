/**
 * Test helper run as its own Node process (built by `npm run build`): creates and starts one
 * container through RuntimeContainer.run and exits, as a worker that restarts would.
 * argv: container id, bundle dir, spec as JSON, runtime path, state root.
 */
import { RuntimeContainer } from '../runtime-container.js';
import type { ContainerSpec } from '../config.js';

const [id, bundle, specJson, runtimePath, root] = process.argv.slice(2);
if (!id || !bundle || !specJson || !runtimePath || !root) throw new Error('usage: start-and-exit ID BUNDLE SPEC_JSON RUNTIME_PATH ROOT');
await RuntimeContainer.run(id, bundle, JSON.parse(specJson) as ContainerSpec, { runtimePath, root });
process.exit(0);
