// eslint for the firmware's TypeScript (typed rules) and the project's
// Node scripts and tests.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
	{ ignores: ["build/**", "third_party/**", "node_modules/**"] },
	js.configs.recommended,
	{
		files: ["src/**/*.ts", "modules/**/*.ts", "boards/**/*.ts"],
		extends: [...tseslint.configs.strictTypeChecked],
		languageOptions: {
			parserOptions: { project: "./tsconfig.json", tsconfigRootDir: import.meta.dirname },
		},
		rules: {
			// native() returns the host's Function; each binding narrows it once with a cast.
			"@typescript-eslint/no-unsafe-function-type": "off",
			"@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true }],
		},
	},
	{
		files: ["tools/**/*.mjs", "host-tests/**/*.mjs", "eslint.config.mjs"],
		languageOptions: {
			globals: { process: "readonly", console: "readonly", setTimeout: "readonly", clearTimeout: "readonly", Buffer: "readonly", URL: "readonly" },
		},
	},
);
