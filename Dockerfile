# syntax=docker/dockerfile:1
#
# One image for both Holdline processes, running compiled JavaScript:
#   server (default):  node dist/cli/holdline.js start --role server --tools ./dist-examples/support-desk
#   worker:            node dist/cli/holdline.js start --role worker --tools ./dist-examples/support-desk
# Configuration is environment variables only (src/runtime/config.ts). Set
# TEMPORAL_ADDRESS, or the process starts an embedded dev server (not in here).
# NODE_ENV=production makes HOLDLINE_JWT_SECRET (32+ characters) required for both.
# With HOLDLINE_DATABASE_URL the example tools keep their orders in PostgreSQL
# (any number of workers, on any hosts); without it, in SQLite under /data.
#
# Build:  docker build -t holdline .

# All stages on the same Node major and Debian release, so the native addon
# built below (better-sqlite3) loads in the runtime stage.
ARG NODE_IMAGE=node:20-bookworm

# ---- build: every dependency, TypeScript compiled to dist/ and dist-examples/ ----
# The full image has python3, make and g++ for node-gyp: better-sqlite3 builds
# from source when no prebuilt binary fits.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json tsconfig.examples.json ./
COPY src ./src
COPY examples ./examples
# dist/: the package and the console's assets; dist-examples/: the support-desk
# tools, whose `import 'holdline'` resolves to dist/ by the package's own name.
RUN npm run build && npx tsc -p tsconfig.examples.json

# ---- production dependencies only ------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# typescript, jest, the type packages and the rest of devDependencies stay out.
# tsx stays (a dependency: it loads users' TypeScript tools modules) but this
# image never runs it. @swc/core comes with @temporalio/worker, which bundles
# the workflows at start-up.
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force
# The example's SQLite store (the default without HOLDLINE_DATABASE_URL) needs
# better-sqlite3, a devDependency of the package (Holdline itself does not use
# it): taken, already compiled, from the full install with what it loads.
COPY --from=build /app/node_modules/better-sqlite3 ./node_modules/better-sqlite3
COPY --from=build /app/node_modules/bindings ./node_modules/bindings
COPY --from=build /app/node_modules/file-uri-to-path ./node_modules/file-uri-to-path

# ---- runtime ---------------------------------------------------------------
FROM ${NODE_IMAGE}-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    HOLDLINE_DATA_DIR=/data
WORKDIR /app

# Application files stay owned by root: the `node` user can read, not change them.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /app/dist ./dist
COPY --from=build /app/dist-examples ./dist-examples

# The data directory: the example tools' SQLite store when there is no
# HOLDLINE_DATABASE_URL. Created and owned by `node` before VOLUME, so a fresh
# named volume mounted here inherits that ownership.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]

USER node
EXPOSE 3000

# No image-level HEALTHCHECK: the same image runs the worker, which has no
# HTTP port, so one would mark every worker unhealthy. docker-compose.yml puts
# a healthcheck on the server service; elsewhere probe GET /healthz (liveness)
# and GET /readyz (Temporal reachable) on port 3000, e.g.
#   node -e "fetch('http://127.0.0.1:3000/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"

# node itself, not `npm run`, so SIGTERM reaches the process that drains
# (src/cli/run.ts). Run it under an init (`docker run --init`, compose
# `init: true`) for zombie reaping. The worker: override the command with
#   node dist/cli/holdline.js start --role worker --tools ./dist-examples/support-desk
CMD ["node", "dist/cli/holdline.js", "start", "--role", "server", "--tools", "./dist-examples/support-desk"]
