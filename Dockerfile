# One image for the whole system: controller, serve, logger, collector, fetch, drift, baseline, batch.
#   docker build -t modelship/modelship:0.1.0 .
#   GPU image (CUDA 12 execution provider for onnxruntime-node):
#   docker build --build-arg ONNXRUNTIME_NODE_INSTALL=cuda12 --build-arg BASE=nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04 ...
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
# skip: CPU binaries ship inside onnxruntime-node; cuda12: the install script fetches the CUDA provider.
ARG ONNXRUNTIME_NODE_INSTALL=skip
ENV ONNXRUNTIME_NODE_INSTALL=${ONNXRUNTIME_NODE_INSTALL}
COPY package.json package-lock.json .npmrc tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
RUN npm ci && npm run build && npm prune --omit=dev

FROM ${NODE_IMAGE}
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
COPY crds ./crds
# The restricted Pod Security profile: a fixed non-root user, read-only root filesystem at run time.
USER 65532:65532
ENTRYPOINT ["node", "/app/bin/modelship.js"]
CMD ["--help"]
