/**
 * Test helper run as its own Node process (bundled by the test): starts one container through
 * ShimContainer.start and exits, as a worker that restarts would. argv: state dir, spec as JSON.
 */
import { ShimContainer } from '../shim.js';
import type { ContainerSpec } from '../config.js';

const [dir, specJson, shimPath] = process.argv.slice(2);
if (!dir || !specJson || !shimPath) throw new Error('usage: start-and-exit DIR SPEC_JSON SHIM_PATH');
await ShimContainer.start(dir, JSON.parse(specJson) as ContainerSpec, { shimPath });
process.exit(0);
