# One image for the web server, the worker and the one-shot migration.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PLACEMENT_INSTANCE_DIR=/app/instance

WORKDIR /app
RUN useradd --create-home --uid 1000 placement

COPY pyproject.toml README.md alembic.ini ./
COPY placement ./placement
COPY workers ./workers
COPY migrations ./migrations
RUN pip install --editable . && mkdir -p /app/instance && chown placement /app/instance

USER placement
EXPOSE 5000
HEALTHCHECK --interval=15s --timeout=5s --retries=5 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:5000/healthz', timeout=4).status != 200)"
CMD ["placement", "serve", "--host", "0.0.0.0", "--port", "5000"]
