/**
 * mulberry32: a tiny seeded PRNG, so a seed reproduces a fault sequence, a workload or a webhook's behaviour exactly.
 * Not for anything secret. Shared by the fault plan (bundled into the handlers), the chaos and bench workloads and the
 * local webhook receiver.
 * @returns a function yielding uniform numbers in [0, 1)
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
