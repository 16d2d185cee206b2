# One image for the API (`regie serve`) and the worker (`regie worker`).
# Dependencies come from requirements-runtime.lock (every version pinned with its hashes,
# refreshed by `make lock`), then regie itself without resolving anything: built with the
# setuptools of requirements-build.lock (hashes checked), not in pip's isolated build
# environment, which would fetch the newest setuptools unchecked.
FROM python:3.11-slim AS build
WORKDIR /src
COPY requirements-runtime.lock requirements-build.lock ./
RUN pip install --no-cache-dir --prefix=/install --require-hashes -r requirements-runtime.lock \
 && pip install --no-cache-dir --require-hashes -r requirements-build.lock
COPY pyproject.toml README.md ./
COPY regie ./regie
COPY payments ./payments
COPY webhooks ./webhooks
COPY ledger ./ledger
COPY reconciliation ./reconciliation
COPY receipts ./receipts
COPY migrations ./migrations
RUN pip install --no-cache-dir --prefix=/install --no-deps --no-build-isolation .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 regie
COPY --from=build /install /usr/local
# numeric, so that a host (or Kubernetes' runAsNonRoot) can tell it is not root
USER 10001
WORKDIR /home/regie
ENV REGIE_ENV=production PYTHONUNBUFFERED=1
EXPOSE 8000
# SIGTERM (docker stop, compose down) drains: in-flight requests finish within
# REGIE_SHUTDOWN_GRACE_SECONDS, a worker finishes its current event
STOPSIGNAL SIGTERM
ENTRYPOINT ["regie"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
