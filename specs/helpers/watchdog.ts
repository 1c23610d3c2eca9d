/** A watchdog: a call that hangs fails the test in `ms` instead of at the test timeout. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms (hung)`)), ms);
  });
  return Promise.race([promise, hung]).finally(() => clearTimeout(timer));
}
