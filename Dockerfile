# One image for both the ingest job and the API (see docker-compose.yml).
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
COPY prompts prompts
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["citeline", "serve", "--index", "/data/index", "--host", "0.0.0.0", "--port", "8000"]
