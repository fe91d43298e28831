// Copies the browser files Preflab serves from node_modules into static/vendor (git-ignored).
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const files = {
  "htmx.min.js": "node_modules/htmx.org/dist/htmx.min.js",
};
const out = join(root, "static", "vendor");
mkdirSync(out, { recursive: true });
for (const [name, src] of Object.entries(files)) {
  copyFileSync(join(root, src), join(out, name));
  console.log(`static/vendor/${name} <- ${src}`);
}
