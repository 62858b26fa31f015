// Build: esbuild compiles each entry to an ES module in dist/ (react stays external: a peer
// dependency; the core is bundled into each entry's imports, not duplicated: react.js imports
// ./index.js), tsc writes the .d.ts files, and the core's bundle is copied to the reference
// server's static folder, the one module it serves at /static/progress-client.js.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { copyFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
rmSync(join(root, "dist"), { recursive: true, force: true });
const common = { bundle: true, format: "esm", target: "es2022", platform: "neutral",
  legalComments: "none", logLevel: "warning" };
await build({ ...common, entryPoints: [join(root, "src/index.ts")],
  outfile: join(root, "dist/index.js"), banner: { js: "// progress-client: see README.md" } });
await build({ ...common, entryPoints: [join(root, "src/react.ts")],
  outfile: join(root, "dist/react.js"), external: ["react", "./index.js"] });
execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p",
  join(root, "tsconfig.json")], { stdio: "inherit" });
copyFileSync(join(root, "dist/index.js"),
  join(root, "../progress_client/server/static/progress-client.js"));
