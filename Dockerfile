# koppel: one image for every role (migrate, scheduler, worker, simulator); the command picks it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KOPPEL_LOG_FORMAT=json

WORKDIR /src
COPY . .
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /home/koppel --create-home koppel

USER koppel
WORKDIR /home/koppel
ENTRYPOINT ["koppel"]
CMD ["--help"]
