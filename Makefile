# switchyard: the user's interface. `make run` and `make test` are all a newcomer needs on a
# fresh Debian 12; each installs missing packages first (scripts/install-deps).
.PHONY: all deps build run test unit bench fuzz lint format asan tsan clean install package

JOBS ?= $(shell nproc)
CONFIG ?= config/switchyard.toml
PREFIX ?= /usr/local

all: build

deps:
	@scripts/install-deps

build: deps
	@cmake --preset release >/dev/null
	@cmake --build build -j $(JOBS)

run: build
	build/bin/switchyard --config $(CONFIG)

# The server, sy-bench, the library (CMake package, switchyard.pc), config, www and docs
# under PREFIX (docs/install.md); `make package` builds build/switchyard_<version>_amd64.deb.
install: build
	@cmake --install build --prefix $(PREFIX)

package: build
	@cd build && cpack

# Every test: unit, integration (real binary, real clients), browser, and a short fuzz run.
test: build
	@scripts/test

bench: deps
	@scripts/install-deps --bench
	@cmake --preset release >/dev/null
	@cmake --build build -j $(JOBS)
	@bench/run-all

fuzz: deps
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-600} scripts/fuzz

lint: deps
	@scripts/lint

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

asan: deps
	@cmake --preset asan >/dev/null && cmake --build build-asan -j $(JOBS)
	@ctest --test-dir build-asan -L unit --output-on-failure -j $(JOBS)

tsan: deps
	@cmake --preset tsan >/dev/null && cmake --build build-tsan -j $(JOBS)
	@ctest --test-dir build-tsan -L unit --output-on-failure -j $(JOBS)

clean:
	rm -rf build build-asan build-tsan build-fuzz
