# One image for the API and the Ray nodes: the same Python, Ray and project code on every node,
# as Ray requires of a driver and its workers.
FROM python:3.11-slim

WORKDIR /app
# The CPU build of PyTorch; PyPI's default torch wheel is a multi-GB CUDA build.
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY nas nas
COPY searchspaces searchspaces
COPY latency_tables latency_tables
COPY api api
COPY workers workers
RUN pip install --no-cache-dir .

# Nothing runs as root: the service, Ray's raylets and workers run as an unprivileged user that owns
# only its home (Ray's session files) and /app/var (data_dir: exports, a SQLite file if no database).
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin nas && mkdir -p /app/var && chown nas:nas /app/var
USER nas

EXPOSE 8000
CMD ["nas", "serve", "--host", "0.0.0.0", "--port", "8000"]
