# purple-otr: the front door. Everything real happens in cargo; this file only installs
# what the build needs, picks the right cargo invocations and, as root, runs everything
# that starts libpurple inside a private network namespace with loopback only.

CARGO      ?= cargo
PLUGIN_DIR ?= $(HOME)/.purple/plugins

# Debian/Ubuntu packages needed to build the plugin ...
BUILD_PACKAGES := build-essential pkg-config libpurple-dev libglib2.0-dev libclang-dev clang
# ... and to run the whole test suite (local XMPP server, libotr reference peer, Finch under
# tmux, Pidgin under Xvfb, network namespaces; Pidgin's headers for the struct-layout check).
TEST_PACKAGES := $(BUILD_PACKAGES) prosody libotr5-dev libotr5-bin iproute2 util-linux \
                 tmux finch pidgin xvfb xauth xdotool imagemagick valgrind \
                 pidgin-dev libgtk2.0-dev

# As root: run libpurple, prosody, Finch and Pidgin in a private network namespace where
# only `lo` exists, so nothing a test starts can reach the network. Elsewhere (no root)
# the tests still only use 127.0.0.1.
ifeq ($(shell id -u),0)
ISOLATED = unshare -n sh -c 'ip link set lo up && exec "$$0" "$$@"'
else
ISOLATED =
endif

# Installs missing Debian packages when root, else prints the exact apt-get line and stops.
define ensure_packages
	@missing=""; \
	for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing:$$missing"; \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	  else \
	    echo "Missing packages:$$missing"; \
	    echo "Install them with:"; \
	    echo "    sudo apt-get install$$missing"; \
	    exit 1; \
	  fi; \
	fi
endef

.PHONY: install test demo build-deps test-deps

build-deps:
	$(call ensure_packages,$(BUILD_PACKAGES))
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust >= 1.80 (https://rustup.rs)"; exit 1; }

test-deps:
	$(call ensure_packages,$(TEST_PACKAGES))
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust >= 1.80 (https://rustup.rs)"; exit 1; }

# Build the release plugin and install it for the current user (Pidgin and Finch both look
# in ~/.purple/plugins/).
install: build-deps
	$(CARGO) build --release --lib
	install -D -m 0644 target/release/libpurple_otr.so $(PLUGIN_DIR)/purple-otr.so
	# The OTR button's icons (Pidgin looks for them next to the plugin).
	install -d $(PLUGIN_DIR)/purple-otr/icons
	install -m 0644 icons/*.png $(PLUGIN_DIR)/purple-otr/icons/
	@echo "Installed $(PLUGIN_DIR)/purple-otr.so"
	@echo "Enable it in Pidgin (Tools > Plugins) or Finch (Actions > Plugins): \"Off-the-Record Messaging\"."

# The whole suite: the plugin with libpurple (host tests, prosody end-to-end, Finch, Pidgin)
# and the engine alone without libpurple. Everything that needs the network (crates) is
# built first; the tests then run offline. The engine-only build has its own target dir:
# cargo names both cdylibs alike, and one must not replace the other.
test: test-deps
	$(CARGO) build --tests --examples
	CARGO_TARGET_DIR=target/engine $(CARGO) build --lib --test fuzz_smoke --no-default-features --features fuzzing
	$(ISOLATED) $(CARGO) test --offline
	# The engine alone, without libpurple (its integration tests already ran above).
	$(ISOLATED) env CARGO_TARGET_DIR=target/engine $(CARGO) test --offline --no-default-features --features fuzzing --lib
	# Every fuzz target over its committed corpus plus seeded mutations (no libFuzzer needed).
	$(ISOLATED) env CARGO_TARGET_DIR=target/engine $(CARGO) test --offline --no-default-features --features fuzzing --test fuzz_smoke

# A throwaway local XMPP server and two headless clients; prints both windows.
demo: test-deps
	$(CARGO) build --lib --example demo
	$(ISOLATED) $(CARGO) run --offline --quiet --example demo

# Side-by-side benchmark against libotr 4.1 (docs/benchmarks.md); `make bench MODE=callgrind`
# (or `make bench-callgrind`) counts instructions under valgrind instead of wall time.
.PHONY: bench bench-callgrind
bench:
	CARGO=$(CARGO) benches/run.sh $(or $(MODE),time)
bench-callgrind:
	CARGO=$(CARGO) benches/run.sh callgrind
