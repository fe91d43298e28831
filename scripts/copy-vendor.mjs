// Copies the browser files Preflab serves from node_modules into static/vendor (git-ignored).
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const files = {
  "htmx.min.js": "node_modules/htmx.org/dist/htmx.min.js",
  // the API docs page (/api/docs, app/web/api_docs.py)
  "swagger-ui/swagger-ui-bundle.js": "node_modules/swagger-ui-dist/swagger-ui-bundle.js",
  "swagger-ui/swagger-ui.css": "node_modules/swagger-ui-dist/swagger-ui.css",
  "swagger-ui/favicon-32x32.png": "node_modules/swagger-ui-dist/favicon-32x32.png",
};
const out = join(root, "static", "vendor");
for (const [name, src] of Object.entries(files)) {
  mkdirSync(dirname(join(out, name)), { recursive: true });
  copyFileSync(join(root, src), join(out, name));
  console.log(`static/vendor/${name} <- ${src}`);
}
