/** The middle value (the upper one of an even count), as every bench script reports its rounds. */
export const median = (values: ReadonlyArray<number>) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
