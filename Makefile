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
LIB_SRCS := $(filter-out labctl/cmd/main.c,$(wildcard labctl/*/*.c)) agents/proto.c
AGENT_SRCS := $(wildcard agents/*.c)
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
	libxml2-utils librsvg2-bin user-mode-linux kmod hping3 clang python3 socat libcap2-bin bc \
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

-include $(shell find build -name '*.d' 2>/dev/null)
