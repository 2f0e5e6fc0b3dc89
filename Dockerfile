# One image for the ingest jobs, the API replicas and the Ray head and worker
# (see docker-compose.yml).
FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
# Point PIP_EXTRA_INDEX_URL at a CPU-only PyTorch index when building outside
# this project's machines, or torch==2.13.0 resolves to a multi-GB CUDA build.
ARG PIP_EXTRA_INDEX_URL=""
WORKDIR /app
COPY pyproject.toml README.md ./
COPY citeline citeline
COPY index index
COPY ingest ingest
COPY server server
COPY access access
COPY answer answer
COPY slackbot slackbot
COPY prompts prompts
# The scale extra: the Qdrant backend and Ray (qdrant-client also brings grpcio,
# which Ray's client server on ray-head:10001 needs). Ray Client wants the same
# Python and Ray versions on both ends: the one image guarantees it.
RUN pip install --no-cache-dir ".[scale]"
EXPOSE 8000
CMD ["citeline", "serve", "--index", "/data/index", "--host", "0.0.0.0", "--port", "8000"]
