# syntax=docker/dockerfile:1
#
# One image for both Holdline processes:
#   server (default):  node --import tsx src/cli/holdline.ts start --role server --tools ./examples/support-desk
#   worker:            node --import tsx src/cli/holdline.ts start --role worker --tools ./examples/support-desk
# Configuration is environment variables only (src/runtime/config.ts). Set
# TEMPORAL_ADDRESS, or the process starts an embedded dev server (not in here).
# NODE_ENV=production makes HOLDLINE_JWT_SECRET (32+ characters) required for both.
#
# Build:  docker build -t holdline .

# Both stages on the same Node major and Debian release, so the native addons
# built below (better-sqlite3) load in the runtime stage.
ARG NODE_IMAGE=node:20-bookworm

# ---- build: production dependencies, native addons compiled here ----------
# The full image has python3, make and g++ for node-gyp: better-sqlite3 builds
# from source when no prebuilt binary fits.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# tsx is a runtime dependency (it runs the TypeScript sources); typescript,
# jest and the type packages are dev-only and stay out of the image. @swc/core
# stays: @temporalio/worker needs it to bundle the workflows at start-up.
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# ---- runtime ---------------------------------------------------------------
FROM ${NODE_IMAGE}-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    HOLDLINE_DATA_DIR=/data
WORKDIR /app

# Application files stay owned by root: the `node` user can read, not change them.
COPY --from=build /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY examples ./examples

# The data directory: the example tools' SQLite store (worker). Created and
# owned by `node` before VOLUME, so a fresh named volume mounted here inherits
# that ownership.
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
#   node --import tsx src/cli/holdline.ts start --role worker --tools ./examples/support-desk
CMD ["node", "--import", "tsx", "src/cli/holdline.ts", "start", "--role", "server", "--tools", "./examples/support-desk"]
