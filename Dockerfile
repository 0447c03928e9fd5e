# syntax=docker/dockerfile:1
# ── build ──────────────────────────────────────────────────────────────────────
FROM node:24-slim AS build
WORKDIR /app
ENV NUXT_TELEMETRY_DISABLED=1
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx nuxt build

# ── runtime: the self-contained .output (server, web console, and the bundled CLI in .output/cli)
#    plus the start script, as a non-root user ──
FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    CRS_ENV_FILE=/app/data/.env \
    CRS_SKIP_BUILD=1 \
    LOG_DIR=/app/logs
COPY --from=build --chown=node:node /app/.output ./.output
COPY --from=build --chown=node:node /app/scripts ./scripts
COPY --from=build --chown=node:node /app/.env.example /app/package.json ./
RUN mkdir -p /app/data /app/logs && chown -R node:node /app/data /app/logs
USER node
VOLUME ["/app/data", "/app/logs"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# scripts/start.mjs generates missing secrets into /app/data/.env (kept on the volume), skips the
# build (no sources in the image), and runs .output/server/index.mjs.
CMD ["node", "scripts/start.mjs"]
