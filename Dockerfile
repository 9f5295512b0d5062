# An image serving an Ignyx app. The first stage builds Ignyx's wheel from this checkout
# (which needs a Rust toolchain); the second installs only that wheel and the app, and runs
# it as an unprivileged user. docs/deployment.md explains it.
#
#     docker build -t my-app .                                  # the example, deploy/app/
#     docker build --build-arg APP_DIR=path/to/app -t my-app .  # a directory with main.py
#     docker run --rm -p 8000:8000 -e WEB_CONCURRENCY=4 --stop-timeout 40 my-app

FROM python:3.11-slim AS builder
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
RUN curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \
    | sh -s -- -y --profile minimal --default-toolchain stable
ENV PATH=/root/.cargo/bin:$PATH
RUN pip install --no-cache-dir "maturin>=1.5,<2"
WORKDIR /build
COPY Cargo.toml Cargo.lock build.rs pyproject.toml README.md ./
COPY src/ src/
COPY python/ python/
RUN maturin build --release --out /wheels

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=builder /wheels/ /tmp/wheels/
RUN pip install --no-cache-dir /tmp/wheels/*.whl \
    && rm -rf /tmp/wheels \
    && groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app
WORKDIR /app
# The app: a directory of the build context with main.py (and requirements.txt, if it
# needs more than Ignyx).
ARG APP_DIR=deploy/app
COPY ${APP_DIR}/ ./
RUN if [ -f requirements.txt ]; then pip install --no-cache-dir -r requirements.txt; fi
# A numeric user, so that Kubernetes' runAsNonRoot can check it is not root.
USER 10001:10001
EXPOSE 8000
# Exec form: ignyx is PID 1 and gets the SIGTERM that `docker stop` sends, and drains.
CMD ["ignyx", "run", "main:app", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers"]
