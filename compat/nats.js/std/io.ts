// Stand-in for `@std/io` (JSR is out of reach here): what nats.js's Deno transport uses.
export interface Writer {
  write(p: Uint8Array): Promise<number>;
}
export async function writeAll(w: Writer, data: Uint8Array): Promise<void> {
  let n = 0;
  while (n < data.length) n += await w.write(data.subarray(n));
}
