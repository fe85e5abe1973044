import { defineConfig } from "vitest/config"

/**
 * The suites `npm run mutate` runs against each mutant: those that exercise the mutated modules in this process.
 * Suites that start the service as a child process (durability, config, operations) cannot see a mutant, which
 * Stryker activates in the test process only; the codegen and fixture suites touch none of the mutated modules. The
 * fuzz suite (2,500 requests, half a minute instrumented) is left out: it would run for every mutant of the request
 * path, whose code the receiver suites cover.
 */
export default defineConfig({
  test: {
    include: [
      "test/receiver.test.ts",
      "test/receiver.prop.test.ts",
      "test/outbox.test.ts",
      "test/outbox.prop.test.ts",
      "test/sinks.test.ts",
      "test/sync.test.ts",
      "test/routes.test.ts",
      "test/mirror.test.ts",
      "test/mirror-rows.test.ts"
    ],
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
