import { afterAll, beforeAll } from "vitest"
import { FakeIntercom, type FakeIntercomOptions } from "./FakeIntercom.js"
import { type Prism, startPrism } from "./Prism.js"
import { writeRelaxedSpec } from "./Spec.js"

export interface FakeIntercomBehindPrism {
  readonly fake: FakeIntercom
  readonly prism: Prism
}

/**
 * The fake Intercom API behind Prism (loaded with Intercom's OpenAPI description) for the tests of one file: started
 * before them, closed after. Nothing starts when `when` is false (a suite that skips).
 */
export const fakeIntercomBehindPrism = (
  options: FakeIntercomOptions = { wallClock: true },
  when = true
): FakeIntercomBehindPrism => {
  let fake: FakeIntercom | undefined
  let prism: Prism | undefined
  let spec: ReturnType<typeof writeRelaxedSpec> | undefined
  beforeAll(async () => {
    if (!when) return
    fake = await FakeIntercom.start(options)
    spec = writeRelaxedSpec()
    prism = await startPrism({ upstream: fake.url, spec: spec.path })
  }, 60_000)
  afterAll(async () => {
    await prism?.close()
    await fake?.close()
    spec?.remove()
  })
  return {
    get fake() {
      return fake!
    },
    get prism() {
      return prism!
    }
  }
}
