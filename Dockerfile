FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY schemas ./schemas
RUN npm ci --no-audit --no-fund && npm prune --omit=dev
# The geo and ASN tables, built once into node_modules/.cache/authwatch: the image runs as
# `node` and cannot write there, and building them at every start costs seconds.
RUN node --input-type=module -e "const { loadGeoTable } = await import('./dist/enrich/geoTable.js'); const { loadIpLocationDbAsn } = await import('./dist/enrich/asnEnricher.js'); loadGeoTable(); loadIpLocationDbAsn();"

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY schemas ./schemas
COPY detections ./detections
COPY packs ./packs
COPY data ./data
COPY config ./config
USER node
EXPOSE 9464
ENTRYPOINT ["node", "bin/authwatch.js"]
CMD ["run", "--config", "/app/config/authwatch.docker.yaml"]
