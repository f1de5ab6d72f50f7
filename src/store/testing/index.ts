/** Test support for any module that needs a real store without Raft. */
export { FakeProposer } from './fake-proposer.js';
export { createTestStore, type TestStoreOptions } from './test-store.js';
export { makeNode, makeService, makeTask, type TaskFields } from './fixtures.js';
