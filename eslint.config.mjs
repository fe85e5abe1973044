import effect from "@effect/eslint-plugin"
import { readFileSync } from "node:fs"
import tseslint from "typescript-eslint"

const dprint = JSON.parse(readFileSync(new URL("./dprint.json", import.meta.url), "utf8"))

export default tseslint.config(
  {
    ignores: [
      "dist",
      "build",
      "data",
      "node_modules",
      "coverage",
      "reports",
      ".stryker-tmp",
      "examples/*/node_modules",
      "examples/*/dist",
      "examples/*/.next",
      "examples/*/next-env.d.ts"
    ]
  },
  ...tseslint.configs.recommended,
  ...effect.configs.dprint,
  {
    rules: {
      "@effect/dprint": ["error", { config: dprint }],
      "@typescript-eslint/array-type": ["error", { default: "generic", readonly: "generic" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      // `interface X extends Schema.Schema.Type<typeof XSchema> {}`: Effect's opaque schema types.
      "@typescript-eslint/no-empty-object-type": ["error", { allowInterfaces: "with-single-extends" }]
    }
  }
)
