import type { MinuteCount, TrafficOutcome } from "../store/NotificationLog.js"
import { trafficOutcomes } from "../store/NotificationLog.js"
import { escape } from "./Html.js"

/** One SVG element of the chart; the server writes it as markup, `/console.js` builds it with `createElementNS`. */
export interface Shape {
  readonly tag: "rect" | "line" | "text"
  readonly attributes: Readonly<Record<string, string | number>>
  /** Its tooltip (a `<title>` child). */
  readonly title?: string
  readonly text?: string
}

export interface Chart {
  readonly width: number
  readonly height: number
  readonly shapes: ReadonlyArray<Shape>
}

export const MINUTE = 60_000
export const MINUTES = 60

const LEFT = 40
const SLOT = 12
const TOP = 10
const BOTTOM = 150
const WIDTH = LEFT + MINUTES * SLOT
const HEIGHT = 172

/** The smallest of 1, 2, 5, 10, 20, 50, ... at least `n`: the top of the scale. */
export const scaleTop = (n: number): number => {
  for (let power = 1;; power *= 10) {
    for (const step of [1, 2, 5]) if (step * power >= n) return step * power
  }
}

const clock = (minute: number) => new Date(minute).toISOString().slice(11, 16)

/**
 * The requests of the 60 minutes from `from` (epoch milliseconds of the first), one stacked bar a minute, outcomes in
 * the order of `trafficOutcomes` from the bottom up; a class per outcome (`outcome-accepted`) gives the colour.
 */
export const chartOf = (counts: ReadonlyArray<MinuteCount>, from: number): Chart => {
  const byMinute = new Map<number, Map<TrafficOutcome, number>>()
  for (const { count, minute, outcome } of counts) {
    const index = Math.floor((minute - from) / MINUTE)
    if (index < 0 || index >= MINUTES) continue
    const outcomes = byMinute.get(index) ?? new Map<TrafficOutcome, number>()
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + count)
    byMinute.set(index, outcomes)
  }
  const top = scaleTop(
    Math.max(1, ...[...byMinute.values()].map((outcomes) => [...outcomes.values()].reduce((a, b) => a + b, 0)))
  )
  const scale = (BOTTOM - TOP) / top
  const bars = [...byMinute].sort(([a], [b]) => a - b).flatMap(([index, outcomes]) => {
    let base = BOTTOM
    return trafficOutcomes.flatMap((outcome): Array<Shape> => {
      const count = outcomes.get(outcome) ?? 0
      if (count === 0) return []
      const height = count * scale
      base -= height
      return [{
        tag: "rect",
        attributes: {
          x: LEFT + index * SLOT + 1,
          y: Number(base.toFixed(2)),
          width: SLOT - 2,
          height: Number(height.toFixed(2)),
          class: `outcome-${outcome}`
        },
        title: `${clock(from + index * MINUTE)} UTC ${outcome}: ${count}`
      }]
    })
  })
  const label = (x: number, y: number, anchor: string, text: string): Shape => ({
    tag: "text",
    attributes: { x, y, "text-anchor": anchor, class: "label" },
    text
  })
  const rule = (y: number): Shape => ({
    tag: "line",
    attributes: { x1: LEFT, y1: y, x2: WIDTH, y2: y, class: "rule" }
  })
  return {
    width: WIDTH,
    height: HEIGHT,
    shapes: [
      rule(TOP),
      rule(BOTTOM),
      label(LEFT - 4, TOP + 4, "end", String(top)),
      label(LEFT - 4, BOTTOM + 4, "end", "0"),
      label(LEFT, HEIGHT - 4, "start", clock(from)),
      label(LEFT + MINUTES * SLOT / 2, HEIGHT - 4, "middle", clock(from + MINUTES / 2 * MINUTE)),
      label(WIDTH, HEIGHT - 4, "end", `${clock(from + (MINUTES - 1) * MINUTE)} UTC`),
      ...bars
    ]
  }
}

const shapeMarkup = (shape: Shape): string =>
  `<${shape.tag}${Object.entries(shape.attributes).map(([name, value]) => ` ${name}="${escape(value)}"`).join("")}>${
    shape.title === undefined ? "" : `<title>${escape(shape.title)}</title>`
  }${escape(shape.text ?? "")}</${shape.tag}>`

export const svg = (chart: Chart, id: string, label: string): string =>
  `<svg id="${escape(id)}" class="chart" viewBox="0 0 ${chart.width} ${chart.height}" role="img" aria-label="${
    escape(label)
  }" xmlns="http://www.w3.org/2000/svg">${chart.shapes.map(shapeMarkup).join("")}</svg>`

/** The colours' key: a swatch per outcome. */
export const legend = (): string =>
  `<ul class="legend">${
    trafficOutcomes.map((outcome) =>
      `<li><svg class="swatch" viewBox="0 0 10 10" aria-hidden="true"><rect width="10" height="10" class="outcome-${outcome}"></rect></svg>${
        escape(outcome)
      }</li>`
    ).join("")
  }</ul>`
