// Minified + gzipped size of each entry as a consumer's bundler ships it (react and the core
// external to ./react, as they are separate modules).
import { build } from "esbuild";
import { gzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const budgets = { "index.js": 5 * 1024, "react.js": 1024, "query.js": 1024, "profiles.js": 1024 };
let over = false;
for (const [entry, budget] of Object.entries(budgets)) {
  const out = await build({ entryPoints: [join(root, "dist", entry)], bundle: true, minify: true,
    format: "esm", write: false, external: ["react", "./index.js"], logLevel: "warning" });
  const bytes = gzipSync(out.outputFiles[0].contents, { level: 9 }).length;
  const ok = bytes <= budget;
  over ||= !ok;
  console.log(`${entry}: ${bytes} B min+gz (budget ${budget} B) ${ok ? "ok" : "OVER"}`);
}
process.exit(over ? 1 : 0);
