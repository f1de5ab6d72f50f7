/** Polls until `done()` holds; the generous limit only stops a broken test from hanging. */
export async function waitFor(what: string, done: () => boolean | Promise<boolean>, limitMs = 20_000, everyMs = 10): Promise<void> {
  const start = Date.now();
  while (!(await done())) {
    if (Date.now() - start > limitMs) throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
