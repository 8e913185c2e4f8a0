import effectPlugin from "@effect/eslint-plugin"
import tseslint from "typescript-eslint"

const dprint = {
  indentWidth: 2,
  lineWidth: 120,
  semiColons: "asi",
  quoteStyle: "alwaysDouble",
  trailingCommas: "never",
  operatorPosition: "maintain",
  "arrowFunction.useParentheses": "force"
}

/**
 * The docs site's code column at a 1280 px wide window is 624 px: 68 columns of its 14 px monospace, after the
 * block's padding. The files its pages include are formatted to that width, so that no code block scrolls sideways
 * (docs/scripts/test-docs.ts checks every page).
 */
const docsCodeColumns = 68

export default tseslint.config(
  {
    ignores: [
      "**/node_modules/**",
      "**/dist/**",
      "**/build/**",
      "**/.vitepress/cache/**",
      "**/.vitepress/dist/**",
      "docs/api/generated/**",
      "**/*.d.ts",
      "**/native/**",
      "bench/results/**"
    ]
  },
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts", "**/*.mts", "**/*.mjs"],
    plugins: { "@effect": effectPlugin },
    rules: {
      "@effect/dprint": ["error", { config: dprint }],
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-empty-object-type": "off",
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/array-type": ["error", { default: "generic", readonly: "generic" }]
    }
  },
  {
    files: ["packages/durable/src/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "error" }
  },
  {
    files: ["docs/examples/**/*.ts", "docs/test/guide-testing.test.ts", "apps/example/src/main*.ts"],
    rules: { "@effect/dprint": ["error", { config: { ...dprint, lineWidth: docsCodeColumns } }] }
  }
)
