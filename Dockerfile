# arq-batch: `docker run IMAGE` is the worker; `docker run IMAGE worker --once` an AWS Batch
# style job; `docker run -p 8080:8080 IMAGE serve` the endpoint.
# No credentials are ever built in: at run time boto3's standard chain finds them
# (task role, instance profile, or AWS_* variables passed to `docker run`).
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY requirements.txt pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check -r requirements.txt \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps .

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="arq-batch" \
      org.opencontainers.image.description="Batch scoring worker and SageMaker-compatible endpoint for linear models on S3 + SQS" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://example.invalid/arq-batch"
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin arq
COPY --from=build /opt/venv /opt/venv
COPY config/container.yaml /etc/arq-batch/config.yaml
# MALLOC_ARENA_MAX: fewer glibc arenas keep a threaded worker's RSS close to its live data.
ENV PATH=/opt/venv/bin:$PATH \
    ARQ_BATCH_CONFIG=/etc/arq-batch/config.yaml \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MALLOC_ARENA_MAX=2
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["arq-batch", "health"]
ENTRYPOINT ["arq-batch"]
CMD ["worker"]
