// Type-checks test/types/consumer.tsx (strict) against the packed tarball's .d.ts files:
// npm pack, the tarball unpacked as node_modules/progress-client of a temporary project
// (React's types linked from this package's dev dependencies), tsc --noEmit.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const work = mkdtempSync(join(tmpdir(), "pc-consumer-"));
try {
  const out = execFileSync("npm", ["pack", "--json", "--pack-destination", work],
    { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const tarball = join(work, JSON.parse(out)[0].filename);
  const pkg = join(work, "node_modules", "progress-client");
  mkdirSync(pkg, { recursive: true });
  execFileSync("tar", ["-xzf", tarball, "-C", pkg, "--strip-components=1"]);
  mkdirSync(join(work, "node_modules", "@types"), { recursive: true });
  for (const dep of ["react", "@types/react"]) {
    symlinkSync(join(root, "node_modules", dep), join(work, "node_modules", dep), "dir");
  }
  cpSync(join(root, "test", "types", "consumer.tsx"), join(work, "consumer.tsx"));
  writeFileSync(join(work, "tsconfig.json"), JSON.stringify({ compilerOptions: {
    target: "ES2022", module: "ES2022", moduleResolution: "bundler", strict: true,
    jsx: "react-jsx", noEmit: true, resolveJsonModule: true, skipLibCheck: false,
    lib: ["ES2022", "DOM", "DOM.Iterable"], types: [] }, files: ["consumer.tsx"] }));
  execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", work],
    { stdio: "inherit" });
  console.log("consumer.tsx type-checks against the packed .d.ts files");
} finally {
  rmSync(work, { recursive: true, force: true });
}
