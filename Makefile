# purple-otr: the front door. Everything real happens in cargo; this file only installs
# what the build needs, picks the right cargo invocations and, as root, runs everything
# that starts libpurple inside a private network namespace with loopback only.

CARGO      ?= cargo

# Where `make install` puts the plugin. Without PREFIX: for the current user, in
# ~/.purple/plugins (Pidgin and Finch both look there), the plugin file and its
# translations in ~/.purple/plugins/purple-otr/locale (the plugin looks next to its own .so
# first, then in PREFIX/share/locale). With
# PREFIX=/usr: system-wide, in the directory libpurple searches (pkg-config's plugindir,
# e.g. /usr/lib/x86_64-linux-gnu/purple-2), with the icons (icons/*.png, *.svg) under
# PREFIX/share/pixmaps/purple-otr and the translations (po/*.po) under PREFIX/share/locale.
# Another PREFIX moves all of it (libpurple then does not look there by itself). DESTDIR
# puts either into a staging root (packaging).
PREFIX  ?=
DESTDIR ?=
ifeq ($(PREFIX),)
PLUGIN_DIR ?= $(HOME)/.purple/plugins
LOCALE_DIR ?= $(PLUGIN_DIR)/purple-otr/locale
else
PLUGIN_DIR ?= $(shell pkg-config --define-variable=prefix=$(PREFIX) --variable=plugindir purple)
DATA_DIR   ?= $(PREFIX)/share/pixmaps/purple-otr
LOCALE_DIR ?= $(PREFIX)/share/locale
endif

# Debian/Ubuntu packages needed to build the plugin ...
BUILD_PACKAGES := build-essential pkg-config libpurple-dev libglib2.0-dev libclang-dev clang
# ... and to run the whole test suite (local XMPP server, libotr reference peer, Finch under
# tmux, Pidgin under Xvfb, network namespaces; Pidgin's headers for the struct-layout check).
TEST_PACKAGES := $(BUILD_PACKAGES) prosody libotr5-dev libotr5-bin iproute2 util-linux \
                 tmux finch pidgin xvfb xauth xdotool imagemagick valgrind \
                 pidgin-dev libgtk2.0-dev python3 python3-venv \
                 gettext locales fonts-dejavu-core

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

# Stops when FILE (a system path) belongs to an installed Debian package and DESTDIR is
# empty: apt owns it, and `make install`/`uninstall` must not change it behind dpkg's back.
define refuse_if_packaged
	@if [ -z "$(DESTDIR)" ] && command -v dpkg-query >/dev/null && \
	    owner=$$(dpkg-query -S "$(1)" 2>/dev/null); then \
	  echo "$(1) belongs to the Debian package $${owner%%:*}: use apt (sudo apt remove $${owner%%:*}) instead."; \
	  exit 1; \
	fi
endef

.PHONY: install uninstall deb test demo build-deps test-deps pot

build-deps:
	$(call ensure_packages,$(BUILD_PACKAGES))
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust >= 1.85 (Debian 13: apt install cargo; elsewhere https://rustup.rs)"; exit 1; }

test-deps:
	$(call ensure_packages,$(TEST_PACKAGES))
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust >= 1.85 (Debian 13: apt install cargo; elsewhere https://rustup.rs)"; exit 1; }
	@# The independent Python implementation of the modern suite needs two packages; when
	@# python3 lacks them they go into a venv under target/ (nothing system-wide).
	@python3 -c 'import cryptography, kyber_py' 2>/dev/null || [ -x target/py/bin/python3 ] || { \
	  echo "Setting up target/py (a Python venv with cryptography and kyber-py)"; \
	  python3 -m venv target/py && target/py/bin/pip install --quiet --disable-pip-version-check cryptography kyber-py; }

# Build the release plugin and install it: for the current user by default (Pidgin and
# Finch both look in ~/.purple/plugins/), system-wide with PREFIX=/usr (see PREFIX above).
install: build-deps
	PURPLE_OTR_LOCALEDIR=$(or $(PREFIX),/usr)/share/locale $(CARGO) build --release --lib
	@[ -n "$(PLUGIN_DIR)" ] || { echo "pkg-config knows no plugindir for purple (apt-get install libpurple-dev)"; exit 1; }
	$(call refuse_if_packaged,$(PLUGIN_DIR)/purple-otr.so)
	install -D -m 0644 target/release/libpurple_otr.so $(DESTDIR)$(PLUGIN_DIR)/purple-otr.so
ifneq ($(PREFIX),)
	@if [ -d icons ]; then \
	  find icons -type f \( -name '*.png' -o -name '*.svg' \) | sort | while read -r f; do \
	    echo "install -D -m 0644 $$f $(DESTDIR)$(DATA_DIR)/$${f#icons/}"; \
	    install -D -m 0644 "$$f" "$(DESTDIR)$(DATA_DIR)/$${f#icons/}" || exit 1; \
	  done; \
	fi
else
	# The OTR button's icons, next to the plugin (Pidgin looks there first).
	install -d $(DESTDIR)$(PLUGIN_DIR)/purple-otr/icons
	install -m 0644 icons/*.png icons/*.svg $(DESTDIR)$(PLUGIN_DIR)/purple-otr/icons/
endif
	@for po in po/*.po; do \
	  [ -e "$$po" ] || continue; \
	  command -v msgfmt >/dev/null || { echo "msgfmt not found: sudo apt-get install gettext"; exit 1; }; \
	  mo="$(DESTDIR)$(LOCALE_DIR)/$$(basename "$$po" .po)/LC_MESSAGES/purple-otr.mo"; \
	  echo "msgfmt --check -o $$mo $$po"; \
	  mkdir -p "$$(dirname "$$mo")" && msgfmt --check -o "$$mo" "$$po" && chmod 0644 "$$mo" || exit 1; \
	done
	@echo "Installed $(DESTDIR)$(PLUGIN_DIR)/purple-otr.so"
	@echo "Enable it in Pidgin (Tools > Plugins) or Finch (Actions > Plugins): \"Off-the-Record Messaging\"."

# Removes what `make install` with the same PREFIX (and DESTDIR) put in place.
uninstall:
	@[ -n "$(PLUGIN_DIR)" ] || { echo "pkg-config knows no plugindir for purple (apt-get install libpurple-dev)"; exit 1; }
	$(call refuse_if_packaged,$(PLUGIN_DIR)/purple-otr.so)
ifneq ($(PREFIX),)
	@case "$(DATA_DIR)" in */purple-otr) ;; *) echo "DATA_DIR=$(DATA_DIR) is not ours to remove"; exit 1;; esac
endif
	rm -f $(DESTDIR)$(PLUGIN_DIR)/purple-otr.so
	rm -f $(DESTDIR)$(LOCALE_DIR)/*/LC_MESSAGES/purple-otr.mo
ifneq ($(PREFIX),)
	rm -rf $(DESTDIR)$(DATA_DIR)
else
	rm -f $(DESTDIR)$(PLUGIN_DIR)/purple-otr/icons/*.png $(DESTDIR)$(PLUGIN_DIR)/purple-otr/icons/*.svg
	-rmdir $(DESTDIR)$(PLUGIN_DIR)/purple-otr/icons $(DESTDIR)$(LOCALE_DIR)/*/LC_MESSAGES $(DESTDIR)$(LOCALE_DIR)/* $(DESTDIR)$(LOCALE_DIR) $(DESTDIR)$(PLUGIN_DIR)/purple-otr 2>/dev/null
endif

# A Debian package (purple-otr_<version>-<revision>_<arch>.deb in this directory) built
# with dpkg-deb from what `make install PREFIX=/usr DESTDIR=<staging>` installs, plus the
# Debian files from packaging/deb/ (see packaging/build-deb.sh). Only dpkg-dev's own tools:
# cargo-deb would mean installing a binary crate from crates.io, and everything it adds
# fits in one short script.
DEB_REVISION ?= 1
deb: build-deps
	$(call ensure_packages,dpkg-dev gettext)
	CARGO="$(CARGO)" MAKE="$(MAKE)" DEB_REVISION="$(DEB_REVISION)" packaging/build-deb.sh

# The whole suite: the plugin with libpurple (host tests, prosody end-to-end, Finch, Pidgin)
# and the engine alone without libpurple. Everything that needs the network (crates) is
# built first; the tests then run offline. The engine-only build has its own target dir:
# cargo names both cdylibs alike, and one must not replace the other.
test: test-deps
	@for po in po/*.po; do echo "msgfmt --check $$po"; msgfmt --check --statistics -o /dev/null "$$po" || exit 1; done
	$(CARGO) build --tests --examples
	CARGO_TARGET_DIR=target/engine $(CARGO) build --lib --test fuzz_smoke --test lifecycle_property --no-default-features --features fuzzing
	$(ISOLATED) $(CARGO) test --offline
	# The engine alone, without libpurple (its integration tests already ran above).
	$(ISOLATED) env CARGO_TARGET_DIR=target/engine $(CARGO) test --offline --no-default-features --features fuzzing --lib
	# Every fuzz target over its committed corpus plus seeded mutations (no libFuzzer needed).
	$(ISOLATED) env CARGO_TARGET_DIR=target/engine $(CARGO) test --offline --no-default-features --features fuzzing --test fuzz_smoke
	# Random lifecycles of two clients with the first-rule oracle (the client layer too).
	$(ISOLATED) env CARGO_TARGET_DIR=target/engine $(CARGO) test --offline --no-default-features --features fuzzing --test lifecycle_property

# The translation template po/purple-otr.pot from what the source marks (tr, trn, n_, tr_c,
# n_c: the extractor is tests/i18n_catalogs.rs, since xgettext 0.21 cannot read Rust), merged
# into every catalogue; new or changed messages then need translating (make test says which).
pot:
	PURPLE_OTR_UPDATE_POT=1 $(CARGO) test --test i18n_catalogs the_template_is_current
	@for po in po/*.po; do \
	  echo "msgmerge --update $$po"; \
	  msgmerge --quiet --update --backup=none --no-wrap "$$po" po/purple-otr.pot || exit 1; \
	done

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

# Fuzzing (needs `cargo install cargo-fuzz`; see fuzz/README.md): `make fuzz-regression` shows
# the lifecycle target finding a re-introduced silent downgrade within a minute;
# `make fuzz-campaign TARGET=session_receive SECS=600` is one recorded run of the campaign
# (appended to fuzz/campaign.log; figures in docs/security.md).
.PHONY: fuzz-regression fuzz-campaign
fuzz-regression:
	fuzz/regression.sh 3 60
fuzz-campaign:
	fuzz/campaign.sh $(TARGET) $(or $(SECS),600)
