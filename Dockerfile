# syntax=docker/dockerfile:1
# Coffer: docker build -t coffer . && docker run -p 4599:4599 -v coffer-data:/var/lib/coffer coffer
# docs/packaging.md describes the image; deploy/docker-compose.yml runs it with PostgreSQL.

# --- build: dependencies (better-sqlite3 is native), the client bundle and its types, the web console ---
FROM node:20-bookworm-slim AS build
WORKDIR /app
# A compiler in case better-sqlite3 has no prebuilt binary for this platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# Install scripts only for the two packages that need them (a native addon, esbuild's binary).
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3 esbuild
COPY tsconfig.json tsconfig.client.json ./
COPY bin ./bin
COPY src ./src
COPY console ./console
RUN npm run build && npm prune --omit=dev --ignore-scripts

# --- runtime: no compiler, no npm cache, not root ---
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    COFFER_HOST=0.0.0.0 \
    COFFER_PORT=4599 \
    COFFER_DATA_DIR=/var/lib/coffer \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
WORKDIR /app
# Code and dependencies belong to root and are read-only to the server's user.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/src ./src
COPY --from=build /app/dist ./dist
COPY deploy/healthcheck.mjs ./deploy/healthcheck.mjs
RUN groupadd --system --gid 10001 coffer \
 && useradd --system --uid 10001 --gid coffer --home-dir /var/lib/coffer --shell /usr/sbin/nologin coffer \
 && mkdir -p /var/lib/coffer && chown coffer:coffer /var/lib/coffer && chmod 0700 /var/lib/coffer \
 && ln -s /app/bin/coffer.js /usr/local/bin/coffer
USER 10001:10001
# The database, the master key file (unless COFFER_MASTER_KEY is given), the TLS certificate with --tls auto.
VOLUME ["/var/lib/coffer"]
EXPOSE 4599
# Ready: the store, the master key and the audit writer are usable (GET /ready; docs/operations.md).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["node", "/app/deploy/healthcheck.mjs"]
# SIGTERM drains in-flight requests and flushes the audit trail before exiting.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/bin/coffer.js"]
CMD ["server"]
