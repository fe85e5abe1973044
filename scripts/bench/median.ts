/** The value at fraction `p` of values sorted in ascending order (NaN when there are none), as every latency is reported. */
export const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN

/** The middle value (the upper one of an even count), as every bench script reports its rounds. */
export const median = (values: ReadonlyArray<number>) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
