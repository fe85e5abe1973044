/** Shapes remembered at most; past it the one captured longest ago is forgotten first. */
const MAX_SHAPES = 10_000

/**
 * When each shape of drift (a topic and its `shapeOf`) was last captured: one is due again once `windowMs` has passed,
 * so a flood of one drift makes one capture per window.
 */
export const sampling = (windowMs: number, now: () => number = Date.now) => {
  const captured = new Map<string, number>()
  return {
    due: (shape: string): boolean => {
      const at = captured.get(shape)
      return at === undefined || now() - at >= windowMs
    },
    captured: (shape: string): void => {
      captured.delete(shape)
      captured.set(shape, now())
      if (captured.size > MAX_SHAPES) captured.delete(captured.keys().next().value!)
    }
  }
}
