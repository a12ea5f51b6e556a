# Atelier image — a first sketch, used by docker-compose.yml.
#
# Stage 1 builds the browser bundle (esbuild); stage 2 installs Atelier from the checkout
# in editable mode, because the application finds web/ (templates, catalogues, bundle)
# next to its packages.

FROM node:20-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web ./web
RUN npm run --silent build

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOST=0.0.0.0 \
    PORT=8000
WORKDIR /app
COPY . .
COPY --from=assets /app/web/static/build ./web/static/build
RUN pip install --no-cache-dir -e . \
    && useradd --system --home-dir /app atelier \
    && mkdir -p var && chown atelier var
USER atelier
EXPOSE 8000
CMD ["sh", "-c", "atelier migrate && atelier run --host 0.0.0.0"]
