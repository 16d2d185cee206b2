# One image for the API (`regie serve`) and the worker (`regie worker`).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY regie ./regie
COPY payments ./payments
COPY webhooks ./webhooks
COPY ledger ./ledger
COPY reconciliation ./reconciliation
COPY receipts ./receipts
COPY migrations ./migrations
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 regie
COPY --from=build /install /usr/local
USER regie
WORKDIR /home/regie
ENV REGIE_ENV=production PYTHONUNBUFFERED=1
EXPOSE 8000
ENTRYPOINT ["regie"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
