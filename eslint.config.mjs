import effect from "@effect/eslint-plugin"
import { readFileSync } from "node:fs"
import tseslint from "typescript-eslint"

const dprint = JSON.parse(readFileSync(new URL("./dprint.json", import.meta.url), "utf8"))

export default tseslint.config(
  { ignores: ["dist", "data", "node_modules", "coverage", "reports", ".stryker-tmp"] },
  ...tseslint.configs.recommended,
  ...effect.configs.dprint,
  {
    rules: {
      "@effect/dprint": ["error", { config: dprint }],
      "@typescript-eslint/array-type": ["error", { default: "generic", readonly: "generic" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }]
    }
  }
)
