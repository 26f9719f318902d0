# One image for the whole system: controller, serve, logger, collector, fetch, drift, baseline, batch.
#   docker build -t modelship/modelship:0.1.0 .
#   GPU image (CUDA 12 execution provider for onnxruntime-node): the "gpu" target, a CUDA runtime base
#   (which carries no Node.js: node is copied in from NODE_IMAGE) and the CUDA provider binaries:
#   docker build --target gpu --build-arg ONNXRUNTIME_NODE_INSTALL=cuda12 -t modelship/modelship:0.1.0-cuda12 .
#   (RUNTIME_IMAGE picks another CUDA 12 + cuDNN 9 base.)
# Offline / local builds (no registry): npm run image (scripts/image.sh, docs/image.md).
ARG NODE_IMAGE=node:20-bookworm-slim
# Base of the "gpu" target only; the default (CPU) image is NODE_IMAGE.
ARG RUNTIME_IMAGE=nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04

FROM ${NODE_IMAGE} AS build
WORKDIR /src
# skip: CPU binaries ship inside onnxruntime-node; cuda12: the install script fetches the CUDA provider.
ARG ONNXRUNTIME_NODE_INSTALL=skip
ENV ONNXRUNTIME_NODE_INSTALL=${ONNXRUNTIME_NODE_INSTALL}
# Extra flags for npm ci / npm prune, e.g. "--offline --no-audit --no-fund" with a mounted npm cache.
ARG NPM_CI_FLAGS=
COPY package.json package-lock.json .npmrc tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
# onnxruntime-node ships binaries for every OS and CPU: keep only this platform's (about 250 MB less).
RUN npm ci ${NPM_CI_FLAGS} && npm run build && npm prune --omit=dev ${NPM_CI_FLAGS} && \
    node -e 'const fs = require("fs"), { join } = require("path"), base = "node_modules/onnxruntime-node/bin"; \
      for (const napi of fs.existsSync(base) ? fs.readdirSync(base) : []) \
        for (const os of fs.readdirSync(join(base, napi))) { \
          for (const arch of fs.readdirSync(join(base, napi, os))) \
            if (os !== process.platform || arch !== process.arch) fs.rmSync(join(base, napi, os, arch), { recursive: true }); \
          if (fs.readdirSync(join(base, napi, os)).length === 0) fs.rmdirSync(join(base, napi, os)); \
        }'

# /app as both targets install it.
FROM scratch AS app
COPY --from=build /src/package.json /app/package.json
COPY --from=build /src/node_modules /app/node_modules
COPY --from=build /src/dist /app/dist
COPY --from=build /src/bin /app/bin
COPY crds /app/crds
# The gRPC service definition serve loads at run time (dist/runtime/../../proto).
COPY proto /app/proto

# GPU target: a CUDA runtime base plus the node binary of NODE_IMAGE.
FROM ${NODE_IMAGE} AS node
FROM ${RUNTIME_IMAGE} AS gpu
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=app /app /app
WORKDIR /app
ENV NODE_ENV=production
USER 65532:65532
ENTRYPOINT ["node", "/app/bin/modelship.js"]
CMD ["--help"]

# Default target (last stage): the CPU image.
FROM ${NODE_IMAGE} AS cpu
COPY --from=app /app /app
WORKDIR /app
ENV NODE_ENV=production
# The restricted Pod Security profile: a fixed non-root user, read-only root filesystem at run time.
USER 65532:65532
ENTRYPOINT ["node", "/app/bin/modelship.js"]
CMD ["--help"]
