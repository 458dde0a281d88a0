// A stand-in for the parts of Deno's `@std/assert` that nats.js's tests use: JSR (where
// the real module lives) is out of reach from this machine, so compat/nats.js/run.sh maps
// the `@std/assert` import here. Written for this project; the semantics follow the
// documented behaviour of the std module (deep equality, rejects/throws checks).

export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

function show(v: unknown): string {
  try {
    return Deno.inspect(v, { depth: 8, sorted: true, compact: true });
  } catch {
    return String(v);
  }
}

function prefix(msg?: string): string {
  return msg ? `${msg}: ` : "";
}

// deno-lint-ignore no-explicit-any
type Any = any;

/** Deep equality as `@std/assert`'s `equal` defines it. */
export function equal(a: unknown, b: unknown): boolean {
  const seen = new Map<unknown, unknown>();
  const eq = (x: Any, y: Any): boolean => {
    if (Object.is(x, y)) return true;
    if (typeof x !== "object" || typeof y !== "object" || x === null || y === null) {
      return false;
    }
    if (x instanceof Date && y instanceof Date) {
      return Object.is(x.getTime(), y.getTime());
    }
    if (x instanceof RegExp && y instanceof RegExp) return String(x) === String(y);
    if (x instanceof WeakMap || y instanceof WeakMap || x instanceof WeakSet || y instanceof WeakSet) {
      return false;
    }
    if (Object.getPrototypeOf(x) !== Object.getPrototypeOf(y)) {
      const plain = (o: Any) => {
        const p = Object.getPrototypeOf(o);
        return p === null || p === Object.prototype;
      };
      if (!(plain(x) && plain(y))) return false;
    }
    if (seen.get(x) === y) return true;
    seen.set(x, y);
    if (ArrayBuffer.isView(x) && ArrayBuffer.isView(y)) {
      const xa = x as unknown as ArrayLike<unknown>;
      const ya = y as unknown as ArrayLike<unknown>;
      if (xa.length !== ya.length) return false;
      for (let i = 0; i < xa.length; i++) if (!Object.is(xa[i], ya[i])) return false;
      return true;
    }
    if (x instanceof Map && y instanceof Map) {
      if (x.size !== y.size) return false;
      for (const [k, v] of x) {
        if (!y.has(k) || !eq(v, y.get(k))) return false;
      }
      return true;
    }
    if (x instanceof Set && y instanceof Set) {
      if (x.size !== y.size) return false;
      outer: for (const v of x) {
        if (y.has(v)) continue;
        for (const w of y) if (eq(v, w)) continue outer;
        return false;
      }
      return true;
    }
    const kx = [...Object.keys(x), ...Object.getOwnPropertySymbols(x)];
    const ky = [...Object.keys(y), ...Object.getOwnPropertySymbols(y)];
    if (kx.length !== ky.length) return false;
    for (const k of kx) {
      if (!Object.prototype.hasOwnProperty.call(y, k)) return false;
      if (!eq(x[k], y[k])) return false;
    }
    return true;
  };
  return eq(a, b);
}

export function assert(expr: unknown, msg = ""): asserts expr {
  if (!expr) throw new AssertionError(msg || "Expected expression to be true");
}

export function assertFalse(expr: unknown, msg = ""): void {
  if (expr) throw new AssertionError(msg || "Expected expression to be false");
}

export function fail(msg?: string): never {
  throw new AssertionError(`Failed assertion${msg ? `: ${msg}` : "."}`);
}

export function unreachable(msg?: string): never {
  throw new AssertionError(msg ?? "Unreachable");
}

export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  if (!equal(actual, expected)) {
    throw new AssertionError(
      `${prefix(msg)}Values are not equal:\n  actual:   ${show(actual)}\n  expected: ${show(expected)}`,
    );
  }
}

export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  if (equal(actual, expected)) {
    throw new AssertionError(`${prefix(msg)}Expected actual: ${show(actual)} not to be: ${show(expected)}`);
  }
}

export function assertStrictEquals<T>(actual: unknown, expected: T, msg?: string): asserts actual is T {
  if (!Object.is(actual, expected)) {
    throw new AssertionError(`${prefix(msg)}Values are not strictly equal: ${show(actual)} !== ${show(expected)}`);
  }
}

export function assertExists<T>(actual: T, msg?: string): asserts actual is NonNullable<T> {
  if (actual === undefined || actual === null) {
    throw new AssertionError(msg || `Expected actual: "${actual}" to not be null or undefined.`);
  }
}

export function assertInstanceOf(actual: unknown, type: Any, msg = ""): void {
  if (!(actual instanceof type)) {
    throw new AssertionError(
      `${prefix(msg)}Expected object to be an instance of "${type?.name}" but was ${show(actual)}`,
    );
  }
}

export function assertMatch(actual: string, expected: RegExp, msg?: string): void {
  if (!expected.test(actual)) {
    throw new AssertionError(`${prefix(msg)}Expected actual: "${actual}" to match: "${expected}".`);
  }
}

export function assertStringIncludes(actual: string, expected: string, msg?: string): void {
  if (!actual.includes(expected)) {
    throw new AssertionError(`${prefix(msg)}Expected actual: "${actual}" to contain: "${expected}".`);
  }
}

export function assertArrayIncludes<T>(actual: ArrayLike<T>, expected: ArrayLike<T>, msg?: string): void {
  const missing: T[] = [];
  for (let i = 0; i < expected.length; i++) {
    let found = false;
    for (let j = 0; j < actual.length; j++) {
      if (equal(expected[i], actual[j])) {
        found = true;
        break;
      }
    }
    if (!found) missing.push(expected[i]);
  }
  if (missing.length) {
    throw new AssertionError(`${prefix(msg)}Expected actual: ${show(actual)} to include: ${show(expected)}; missing: ${show(missing)}`);
  }
}

export function assertAlmostEquals(actual: number, expected: number, tolerance?: number, msg?: string): void {
  if (Object.is(actual, expected)) return;
  const delta = Math.abs(expected - actual);
  const tol = tolerance ?? Math.abs(expected) * 1e-7;
  if (delta > tol) {
    throw new AssertionError(`${prefix(msg)}Expected actual: "${actual}" to be close to "${expected}": delta "${delta}" is greater than "${tol}".`);
  }
}

export function assertGreater<T>(actual: T, expected: T, msg?: string): void {
  if (!(actual > expected)) throw new AssertionError(msg ?? `Expect ${show(actual)} > ${show(expected)}`);
}
export function assertGreaterOrEqual<T>(actual: T, expected: T, msg?: string): void {
  if (!(actual >= expected)) throw new AssertionError(msg ?? `Expect ${show(actual)} >= ${show(expected)}`);
}
export function assertLess<T>(actual: T, expected: T, msg?: string): void {
  if (!(actual < expected)) throw new AssertionError(msg ?? `Expect ${show(actual)} < ${show(expected)}`);
}
export function assertLessOrEqual<T>(actual: T, expected: T, msg?: string): void {
  if (!(actual <= expected)) throw new AssertionError(msg ?? `Expect ${show(actual)} <= ${show(expected)}`);
}

export function assertObjectMatch(actual: Record<PropertyKey, Any>, expected: Record<PropertyKey, unknown>, msg?: string): void {
  const sub = (a: Any, e: Any): boolean => {
    if (typeof e !== "object" || e === null || typeof a !== "object" || a === null) return equal(a, e);
    for (const k of Object.keys(e)) {
      if (!(k in a) || !sub(a[k], e[k])) return false;
    }
    return true;
  };
  if (!sub(actual, expected)) {
    throw new AssertionError(`${prefix(msg)}Expected ${show(actual)} to match ${show(expected)}`);
  }
}

/** Checks an error's class and message the way `assertIsError` does. */
export function assertIsError(error: unknown, ErrorClass?: Any, msgMatches?: string | RegExp, msg?: string): void {
  if (!(error instanceof Error)) {
    throw new AssertionError(`${prefix(msg)}Expected "error" to be an Error object, got ${show(error)}.`);
  }
  if (ErrorClass && !(error instanceof ErrorClass)) {
    throw new AssertionError(
      `${prefix(msg)}Expected error to be instance of "${ErrorClass.name}", but was "${error?.constructor?.name}" (${error.message}).`,
    );
  }
  if (msgMatches !== undefined) {
    const m = error.message;
    const ok = typeof msgMatches === "string" ? m.includes(msgMatches) : msgMatches.test(m);
    if (!ok) {
      throw new AssertionError(`${prefix(msg)}Expected error message to include ${show(msgMatches)}, but got ${show(m)}.`);
    }
  }
}

function splitArgs(args: Any[]): [Any, string | undefined, string | undefined] {
  if (typeof args[0] === "function") return [args[0], args[1], args[2]];
  return [undefined, undefined, args[0]];
}

export async function assertRejects(fn: () => PromiseLike<unknown>, ...rest: Any[]): Promise<Any> {
  const [ErrorClass, msgIncludes, msg] = splitArgs(rest);
  let promise: PromiseLike<unknown>;
  try {
    promise = fn();
  } catch (_) {
    throw new AssertionError(`${prefix(msg)}Function throws when expected to reject.`);
  }
  if (!promise || typeof (promise as Any).then !== "function") {
    throw new AssertionError(`${prefix(msg)}Function throws when expected to reject.`);
  }
  let caught: unknown;
  let rejected = false;
  try {
    await promise;
  } catch (e) {
    caught = e;
    rejected = true;
  }
  if (!rejected) throw new AssertionError(`${prefix(msg)}Expected function to reject.`);
  if (ErrorClass) assertIsError(caught, ErrorClass, msgIncludes, msg);
  return caught;
}

export function assertThrows(fn: () => unknown, ...rest: Any[]): Any {
  const [ErrorClass, msgIncludes, msg] = splitArgs(rest);
  let caught: unknown;
  let thrown = false;
  try {
    fn();
  } catch (e) {
    caught = e;
    thrown = true;
  }
  if (!thrown) throw new AssertionError(`${prefix(msg)}Expected function to throw.`);
  if (ErrorClass) assertIsError(caught, ErrorClass, msgIncludes, msg);
  return caught;
}
