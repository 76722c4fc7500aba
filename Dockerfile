# arq-batch: `docker run IMAGE` is the worker; `docker run IMAGE worker --once` an AWS Batch
# style job; `docker run -p 8080:8080 IMAGE serve` the endpoint.
# No credentials are ever built in: at run time boto3's standard chain finds them
# (task role, instance profile, or AWS_* variables passed to `docker run`).
# The default image is the worker and endpoint only; --build-arg EXTRAS=train adds training,
# --build-arg EXTRAS=console the query engine and the console (`IMAGE console --host
# 0.0.0.0` with ARQ_BATCH_CONSOLE_TOKEN set; its health check is GET /healthz).
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ARG EXTRAS=""
WORKDIR /src
COPY requirements*.txt pyproject.toml README.md ./
COPY src ./src
# requirements.txt is the runtime lock (requirements-train.txt adds training on top); the
# package itself goes in with --no-deps, so nothing outside the locks is installed. Then
# trim what nothing we import uses or links (checked with ldd): Arrow Flight, Arrow's own
# cloud filesystems (we use boto3), headers, C++ tests, and pip itself (~90 MB). The
# import at the end fails the build if the trim ever cuts too deep.
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check \
      -r "requirements${EXTRAS:+-$EXTRAS}.txt" \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps . \
 && arrow="$(echo /opt/venv/lib/python3*/site-packages/pyarrow)" \
 && rm -rf "$arrow"/tests "$arrow"/include "$arrow"/*flight* "$arrow"/libarrow_s3.so* \
      "$arrow"/_s3fs.* "$arrow"/_gcsfs.* "$arrow"/_azurefs.* "$arrow"/_hdfs.* \
      "$arrow"/_pyarrow_cpp_tests.* \
 && /opt/venv/bin/pip uninstall --yes --quiet pip setuptools \
 && /opt/venv/bin/python -c "import pyarrow.csv, pyarrow.json, pyarrow.parquet, \
      pyarrow.compute, arq_batch.cli.main, arq_batch.worker.main, arq_batch.serving.app, \
      arq_batch.worker.health" \
 && if [ "$EXTRAS" = console ]; then /opt/venv/bin/python -c "import arq_batch.console.app, \
      arq_batch.console.pages, arq_batch.query.engine; arq_batch.query.engine._httpfs_path()"; fi

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
