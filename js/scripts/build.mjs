// Build: esbuild compiles each entry to an ES module in dist/ (React stays external: a peer
// dependency; react.js, query.js and profiles.js import the core as ./index.js, never a copy), tsc writes the .d.ts files, and the core's bundle is copied to the reference
// server's static folder, the one module it serves at /static/progress-client.js.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const STATIC = join(root, "../progress_client/server/static/progress-client.js");
const common = { bundle: true, format: "esm", target: "es2022", platform: "neutral",
  legalComments: "none", logLevel: "warning" };
const core = { ...common, entryPoints: [join(root, "src/index.ts")],
  banner: { js: "// progress-client (the npm package), built from js/src by esbuild: do not edit." } };

if (process.argv.includes("--check")) {
  // The module the reference server serves is this build, byte for byte.
  const fresh = (await build({ ...core, write: false, outfile: "index.js" })).outputFiles[0];
  if (Buffer.compare(Buffer.from(fresh.contents), readFileSync(STATIC)) !== 0) {
    console.error("progress_client/server/static/progress-client.js is not the build of js/src:"
      + " run npm run build in js/ and commit it");
    process.exit(1);
  }
  console.log("the served module is the package's build");
  process.exit(0);
}

rmSync(join(root, "dist"), { recursive: true, force: true });
await build({ ...core, outfile: join(root, "dist/index.js") });
// The other entries import the core as ./index.js (one copy of it in an app) and React.
for (const entry of ["react", "query", "profiles"]) {
  await build({ ...common, entryPoints: [join(root, `src/${entry}.ts`)],
    outfile: join(root, `dist/${entry}.js`), external: ["react", "./index.js"] });
}
execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p",
  join(root, "tsconfig.json")], { stdio: "inherit" });
// In the repository (not in a copy of js/ alone), the reference server serves this build.
if (existsSync(dirname(STATIC))) copyFileSync(join(root, "dist/index.js"), STATIC);
