// Copies the browser files Preflab serves from node_modules into static/vendor (git-ignored).
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const files = {
  "htmx.min.js": "node_modules/htmx.org/dist/htmx.min.js",
  // the API docs page (/api/docs, app/web/api_docs.py)
  "swagger-ui/swagger-ui-bundle.js": "node_modules/swagger-ui-dist/swagger-ui-bundle.js",
  "swagger-ui/swagger-ui.css": "node_modules/swagger-ui-dist/swagger-ui.css",
  "swagger-ui/favicon-32x32.png": "node_modules/swagger-ui-dist/favicon-32x32.png",
  // the charts people read values off (training curves, runs compared, rounds: static/charts.js)
  "uplot/uPlot.iife.min.js": "node_modules/uplot/dist/uPlot.iife.min.js",
  "uplot/uPlot.min.css": "node_modules/uplot/dist/uPlot.min.css",
};
// devDependencies: only the browser tests use them (tests/browser/test_accessibility.py injects axe-core),
// so an install without them (npm ci --omit=dev) skips them rather than failing.
const devFiles = {
  "axe.min.js": "node_modules/axe-core/axe.min.js",
};
const out = join(root, "static", "vendor");
const copy = (name, src) => {
  mkdirSync(dirname(join(out, name)), { recursive: true });
  copyFileSync(join(root, src), join(out, name));
  console.log(`static/vendor/${name} <- ${src}`);
};
for (const [name, src] of Object.entries(files)) copy(name, src);
for (const [name, src] of Object.entries(devFiles)) {
  if (existsSync(join(root, src))) copy(name, src);
  else console.log(`static/vendor/${name} skipped: ${src} not installed (a devDependency)`);
}
