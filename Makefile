# labctl: see README.md.  Plain GNU make, pkg-config for every library, quiet unless V=1.
#
#   make            build labctl/labctl and agents/labctl-agent
#   make deps       install the Debian packages the build and the tests need (when missing)
#   make demo       deps + build + run labs/handshake.lab
#   make check      deps + build (ASan+UBSan) + every test; ends with "N passed, N failed"
#   make bench      the benchmarks in bench/ (ratios against peers; never part of check)
#
# SAN=1 builds with AddressSanitizer and UndefinedBehaviorSanitizer into build/san/.

SHELL := /bin/bash
CC ?= cc
PKGS := libnl-3.0 libnl-route-3.0 libmnl libpcap

ifeq ($(SAN),1)
  OUT := build/san
  SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LABCTL_BIN := $(OUT)/labctl
  AGENT_BIN := $(OUT)/labctl-agent
else
  OUT := build/rel
  SANFLAGS :=
  LABCTL_BIN := labctl/labctl
  AGENT_BIN := agents/labctl-agent
endif

OPT ?= -O2 -g
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) $(shell pkg-config --libs libev 2>/dev/null || echo -lev)
# -Wno-format-truncation: messages go into fixed buffers on purpose and truncate safely.
CFLAGS_ALL := -std=gnu11 $(OPT) -Wall -Wextra -Werror -Wno-format-truncation -D_GNU_SOURCE -Ilabctl -Iagents \
	$(PKG_CFLAGS) $(SANFLAGS) $(CFLAGS)
LDFLAGS_ALL := $(SANFLAGS) $(LDFLAGS)
LIBS := $(PKG_LIBS) -lm
# labctl itself loads libpcap only when it captures or draws a ladder (labctl/kernel/pcapdl.h): every
# other command starts 0.6 ms sooner without libpcap's eight dependencies.
LABCTL_LIBS := $(filter-out -lpcap,$(LIBS))
# The agent needs libev only (named explicitly: the sanitizer build links with --no-as-needed).
AGENT_LIBS := $(shell pkg-config --libs libev 2>/dev/null || echo -lev) -lm

# labctl/ is one folder per layer (docs/architecture.md has the map); every folder's .c files
# go into liblabctl.a but cmd/main.c.
LIB_SRCS := $(filter-out labctl/cmd/main.c %.bpf.c,$(wildcard labctl/*/*.c)) agents/proto.c
# The agent shares labctl's string appender (base/str.c); nothing else of labctl's.
AGENT_SRCS := $(wildcard agents/*.c) labctl/base/str.c
UNIT_SRCS := $(wildcard tests/unit/test_*.c)

LIB_OBJS := $(patsubst %.c,$(OUT)/obj/%.o,$(LIB_SRCS))
AGENT_OBJS := $(patsubst %.c,$(OUT)/obj/%.o,$(AGENT_SRCS))
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUT)/unit/%,$(UNIT_SRCS))

ifeq ($(V),1)
  Q :=
else
  Q := @
endif

.PHONY: all deps demo check unit bench clean tools
all: $(LABCTL_BIN) $(AGENT_BIN) $(OUT)/tools/ok

# The event observer (labctl/kernel/tcpev.bpf.c): compiled with clang -target bpf against a
# vmlinux.h dumped from this kernel's BTF, and embedded as a bpftool skeleton.  Without
# clang, bpftool, libbpf-dev or /sys/kernel/btf/vmlinux labctl is built with the sock_diag
# poller only (no HAVE_BPF), and says so.  Nothing generated is committed: it lives in
# $(OUT)/bpf/.
BPF_CLANG ?= clang
BPFTOOL ?= $(firstword $(shell command -v bpftool 2>/dev/null) $(wildcard /usr/sbin/bpftool))
BPF_ARCH := $(patsubst x86_64,x86,$(patsubst aarch64,arm64,$(shell uname -m)))
HAVE_BPF := $(shell command -v $(BPF_CLANG) >/dev/null 2>&1 && test -n "$(BPFTOOL)" && \
	pkg-config --exists libbpf 2>/dev/null && test -r /sys/kernel/btf/vmlinux && echo 1)
ifeq ($(HAVE_BPF),1)
$(OUT)/bpf/vmlinux.h:
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  BTF     $@")
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c >$@.tmp && mv $@.tmp $@

# bpftool gen object links the program and strips its DWARF (the BTF stays): the skeleton
# embeds a few kB instead of a megabyte.
$(OUT)/bpf/tcpev.bpf.o: labctl/kernel/tcpev.bpf.c labctl/kernel/tcpev_abi.h $(OUT)/bpf/vmlinux.h
	@$(if $(Q),echo "  BPF     $<")
	$(Q)$(BPF_CLANG) -target bpf -g -O2 -Wall -Werror -D__TARGET_ARCH_$(BPF_ARCH) -I$(OUT)/bpf \
		-Ilabctl -c $< -o $@.tmp.o && $(BPFTOOL) gen object $@ $@.tmp.o && rm -f $@.tmp.o

$(OUT)/bpf/tcpev.skel.h: $(OUT)/bpf/tcpev.bpf.o
	@$(if $(Q),echo "  SKEL    $@")
	$(Q)$(BPFTOOL) gen skeleton $< name tcpev_bpf >$@.tmp && mv $@.tmp $@

$(OUT)/obj/labctl/kernel/tcpev.o: $(OUT)/bpf/tcpev.skel.h
$(OUT)/obj/labctl/kernel/tcpev.o: CFLAGS_ALL += -DHAVE_BPF -I$(OUT)/bpf \
	$(shell pkg-config --cflags libbpf 2>/dev/null)
else
$(info labctl: building without the BPF event observer (needs clang, bpftool, libbpf-dev and \
	/sys/kernel/btf/vmlinux; make deps installs the packages): the sock_diag poller only)
endif

$(OUT)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) -MMD -MP -c -o $@ $<

$(OUT)/liblabctl.a: $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(LABCTL_BIN): $(OUT)/obj/labctl/cmd/main.o $(OUT)/liblabctl.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LABCTL_LIBS)

$(AGENT_BIN): $(AGENT_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(AGENT_LIBS)

$(OUT)/unit/%: tests/unit/%.c $(OUT)/liblabctl.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST-CC $<")
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $< $(OUT)/liblabctl.a $(LDFLAGS_ALL) $(LIBS) -lcmocka

# Small C helpers the tests and benchmarks use (peers such as a bare connect loop).
TOOL_SRCS := $(wildcard tests/tools/*.c bench/tools/*.c)
TOOL_BINS := $(patsubst %.c,$(OUT)/tools/%,$(notdir $(TOOL_SRCS)))
# Tools may use labctl's modules (agentdrive drives agents through agentctl).
$(OUT)/tools/%: tests/tools/%.c $(OUT)/liblabctl.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TOOL    $@")
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $< $(OUT)/liblabctl.a $(LDFLAGS_ALL) $(LIBS)
$(OUT)/tools/%: bench/tools/%.c $(OUT)/liblabctl.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TOOL    $@")
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $< $(OUT)/liblabctl.a $(LDFLAGS_ALL) $(LIBS)
$(OUT)/tools/ok: $(TOOL_BINS)
	@mkdir -p $(dir $@) && touch $@

unit: $(UNIT_BINS)

DEB_PKGS := gcc make pkg-config libnl-3-dev libnl-route-3-dev libmnl-dev libev-dev \
	libpcap-dev libcmocka-dev iproute2 procps util-linux psmisc tcpdump tshark \
	libxml2-utils librsvg2-bin user-mode-linux kmod hping3 clang python3 socat libcap2-bin bc curl \
	libbpf-dev bpftool \
	chromium

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "make deps: need root to install packages (try: sudo make deps)" >&2; exit 2; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

demo: deps
	$(MAKE) --no-print-directory all
	./labctl/labctl run labs/handshake.lab --capture build/demo

check: deps
	$(MAKE) --no-print-directory SAN=1 all unit
	$(MAKE) --no-print-directory all
	SAN=1 tests/run.sh build/san

bench: deps
	$(MAKE) --no-print-directory all
	@for b in bench/*.sh; do echo "== $$b"; bash $$b || true; done

clean:
	rm -rf build labctl/labctl agents/labctl-agent


# ---- install, uninstall, man pages, Debian package (docs/install.md) ---------------------------
# Kept in one block: nothing above depends on it (version.o's flags are set here).
#
#   make install [PREFIX=/usr/local] [DESTDIR=]   labctl in bin/, the agent in libexec/labctl/,
#                  the catalogue in share/labctl/labs/, docs in share/doc/labctl/, man pages in
#                  share/man/, bash completion in share/bash-completion/completions/
#   make uninstall [PREFIX=] [DESTDIR=]  removes exactly those files (and, under a DESTDIR,
#                  the directories left empty, so a staging tree ends empty)
#   make deb       labctl_VERSION_ARCH.deb (release build, PREFIX=/usr) with dpkg-deb
#   make man-lint  mandoc -Tlint on the man pages
#
# The installed labctl finds its agent and catalogue from its own location
# (labctl/base/paths.h), so nothing here is compiled in and a DESTDIR tree runs as it is.
VERSION := 0.1.0
GIT_DESC := $(shell git describe --always --dirty 2>/dev/null)
LABCTL_VERSION := $(VERSION)$(if $(GIT_DESC), (git $(GIT_DESC)))

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR := $(PREFIX)/bin
LIBEXECDIR := $(PREFIX)/libexec/labctl
LABSDIR := $(PREFIX)/share/labctl/labs
DOCDIR := $(PREFIX)/share/doc/labctl
MANDIR := $(PREFIX)/share/man
BASHCOMPDIR := $(PREFIX)/share/bash-completion/completions
INSTALL ?= install

# version.o alone gets the version, and is rebuilt when its text changes (the stamp is
# rewritten only then, so a build without a new commit recompiles nothing).
$(OUT)/gen/version.txt: FORCE_VERSION
	@mkdir -p $(dir $@)
	@echo '$(LABCTL_VERSION)' >$@.tmp; if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(OUT)/obj/labctl/cmd/version.o: $(OUT)/gen/version.txt
$(OUT)/obj/labctl/cmd/version.o: CFLAGS_ALL += -DLABCTL_VERSION='"$(LABCTL_VERSION)"'
FORCE_VERSION:

DOC_FILES := README.md $(wildcard docs/*.md)
DOC_LAB_FILES := $(wildcard docs/labs/*.md)
DOC_IMG_FILES := $(wildcard docs/img/*.svg docs/img/*.png)
LAB_FILES := $(wildcard labs/*.lab)
MAN_PAGES := dist/labctl.1 dist/labctl-lab.5
# What install puts where, relative to $(DESTDIR)$(PREFIX): uninstall removes exactly these.
INSTALLED := bin/labctl libexec/labctl/labctl-agent \
	$(patsubst labs/%,share/labctl/labs/%,$(LAB_FILES)) \
	$(patsubst %,share/doc/labctl/%,$(notdir $(DOC_FILES))) \
	$(patsubst docs/%,share/doc/labctl/%,$(DOC_LAB_FILES) $(DOC_IMG_FILES)) \
	share/man/man1/labctl.1 share/man/man5/labctl-lab.5 \
	share/bash-completion/completions/labctl
INSTALLED_DIRS := libexec/labctl share/labctl/labs share/labctl share/doc/labctl/labs \
	share/doc/labctl/img share/doc/labctl bin share/man/man1 share/man/man5 share/man \
	share/bash-completion/completions share/bash-completion share/doc libexec share

.PHONY: install uninstall deb man-lint
install: $(LABCTL_BIN) $(AGENT_BIN)
	@$(if $(Q),echo "  INSTALL $(DESTDIR)$(PREFIX)")
	$(Q)$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(LABSDIR) \
		$(DESTDIR)$(DOCDIR)/labs $(DESTDIR)$(DOCDIR)/img $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(BASHCOMPDIR)
	$(Q)$(INSTALL) -m 755 $(LABCTL_BIN) $(DESTDIR)$(BINDIR)/labctl
	$(Q)$(INSTALL) -m 755 $(AGENT_BIN) $(DESTDIR)$(LIBEXECDIR)/labctl-agent
	$(Q)$(INSTALL) -m 644 $(LAB_FILES) $(DESTDIR)$(LABSDIR)/
	$(Q)$(INSTALL) -m 644 $(DOC_FILES) $(DESTDIR)$(DOCDIR)/
	$(Q)$(INSTALL) -m 644 $(DOC_LAB_FILES) $(DESTDIR)$(DOCDIR)/labs/
	$(Q)$(INSTALL) -m 644 $(DOC_IMG_FILES) $(DESTDIR)$(DOCDIR)/img/
	$(Q)$(INSTALL) -m 644 dist/labctl.1 $(DESTDIR)$(MANDIR)/man1/labctl.1
	$(Q)$(INSTALL) -m 644 dist/labctl-lab.5 $(DESTDIR)$(MANDIR)/man5/labctl-lab.5
	$(Q)$(INSTALL) -m 644 dist/labctl.bash $(DESTDIR)$(BASHCOMPDIR)/labctl

# Files by name (never rm -r), then directories only when empty; the shared ones (bin,
# share/man, ...) only under a DESTDIR, a staging tree that should end empty.
uninstall:
	@$(if $(Q),echo "  UNINST  $(DESTDIR)$(PREFIX)")
	$(Q)cd "$(DESTDIR)$(PREFIX)/" 2>/dev/null || exit 0; \
	 rm -f $(INSTALLED) && rm -f $(patsubst %,%.gz,$(filter share/man/%,$(INSTALLED))); \
	 for d in libexec/labctl share/labctl/labs share/labctl share/doc/labctl/labs \
		  share/doc/labctl/img share/doc/labctl; do rmdir "$$d" 2>/dev/null; done; \
	 if [ -n "$(DESTDIR)" ]; then \
	   for d in $(INSTALLED_DIRS); do rmdir "$$d" 2>/dev/null; done; \
	   d="$(DESTDIR)$(PREFIX)"; while [ "$$d" != "$(DESTDIR)" ] && rmdir "$$d" 2>/dev/null; do d=$${d%/*}; done; \
	 fi; true

man-lint:
	mandoc -Tlint -Wwarning $(MAN_PAGES)

# The package: the release build installed with PREFIX=/usr into build/deb/root, binaries
# stripped, man pages gzipped, Depends from dpkg-shlibdeps (the ELF files' own NEEDED
# entries); libpcap is a Recommends: labctl loads it with dlopen, only to capture or draw
# (labctl/kernel/pcapdl.h).
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
DEB_FILE := labctl_$(VERSION)_$(DEB_ARCH).deb
DEB_ROOT := build/deb/root
deb:
	$(MAKE) --no-print-directory SAN=0 all
	rm -rf build/deb && mkdir -p $(DEB_ROOT)/DEBIAN build/deb/debian
	$(MAKE) --no-print-directory SAN=0 install DESTDIR=$(abspath $(DEB_ROOT)) PREFIX=/usr
	strip --strip-unneeded $(DEB_ROOT)/usr/bin/labctl $(DEB_ROOT)/usr/libexec/labctl/labctl-agent
	gzip -9n $(DEB_ROOT)/usr/share/man/man1/labctl.1 $(DEB_ROOT)/usr/share/man/man5/labctl-lab.5
	printf 'Source: labctl\n\nPackage: labctl\nArchitecture: any\n' >build/deb/debian/control
	@set -e; cd build/deb; \
	 deps=$$(dpkg-shlibdeps -O -e root/usr/bin/labctl -e root/usr/libexec/labctl/labctl-agent \
		2>/dev/null | sed -n 's/^shlibs:Depends=//p'); \
	 [ -n "$$deps" ] || { echo "make deb: dpkg-shlibdeps found no dependencies (is dpkg-dev installed? make deps)" >&2; exit 2; }; \
	 pcaplib=$$(ldconfig -p | awk '$$1 == "libpcap.so.0.8" { print $$NF; exit }'); \
	 pcappkg=$$([ -n "$$pcaplib" ] && dpkg -S "$$(readlink -f $$pcaplib)" 2>/dev/null | cut -d: -f1 | head -1); \
	 size=$$(du -sk --exclude=DEBIAN root | cut -f1); \
	 { echo "Package: labctl"; \
	   echo "Version: $(VERSION)"; \
	   echo "Architecture: $(DEB_ARCH)"; \
	   echo "Maintainer: labctl dev <dev@labctl>"; \
	   echo "Installed-Size: $$size"; \
	   echo "Depends: $$deps"; \
	   echo "Recommends: $${pcappkg:-libpcap0.8}"; \
	   echo "Suggests: tshark, tcpdump"; \
	   echo "Section: net"; \
	   echo "Priority: optional"; \
	   echo "Description: build TCP labs in network namespaces and verify socket states"; \
	   echo " labctl turns a small lab file into Linux network namespaces joined by links"; \
	   echo " with delay and loss, starts agents that connect, close, abort or leak"; \
	   echo " sockets, and verifies the TCP states it observes through sock_diag."; \
	   echo " It captures packets and draws them as ladder diagrams."; \
	 } >root/DEBIAN/control; \
	 (cd root && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) >root/DEBIAN/md5sums
	dpkg-deb --root-owner-group -Zxz --build $(DEB_ROOT) $(DEB_FILE)
	@echo "make deb: $(DEB_FILE) ($$(du -k $(DEB_FILE) | cut -f1) KiB, $$(dpkg-deb -c $(DEB_FILE) | grep -vc '/$$') files)"

clean: clean-dist
.PHONY: clean-dist
clean-dist:
	rm -f labctl_*.deb

# The tools these targets and t_install need, for make deps.
DEB_PKGS += mandoc dpkg-dev strace

-include $(shell find build -name '*.d' 2>/dev/null)
