# p2psip — one flat makefile (settings, explicit object lists, a static core library).
# `make` builds ./p2psip; `make test` builds and runs every test; `make demo` runs the default
# scenario; `make bench` runs the benchmarks; `make check-purity` guards core/'s sans-I/O rule.

# ---- settings ---------------------------------------------------------------------------------
CC       ?= cc
OPT      ?= -O2 -g
WARN     := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wstrict-prototypes -Wmissing-prototypes
SANITIZE ?=
ifeq ($(SANITIZE),1)
OPT      := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDSAN    := -fsanitize=address,undefined
endif
PKGS     := glib-2.0 yaml-0.1 igraph libosip2 libcrypto libcares
CPPFLAGS += -MMD -MP -D_GNU_SOURCE
CFLAGS   += -std=c11 $(OPT) $(WARN) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
TEST_LDLIBS := -lcunit

# Debian packages the build, the tests and the tools need (gnuplot, igraph and libosip2 are
# used by the analysis and SIP layers; sip-tester is SIPp, for tests/t_sipp.sh; nftables makes
# the NATs of tests/t_natns.sh; baresip-core is the softphone of tests/t_baresip.sh;
# libssl-dev is OpenSSL's libcrypto, for sec/'s credentials; libc-ares-dev is the asynchronous
# DNS resolver of net/dns.c (RFC 3263); dnsmasq-base, the local DNS server of tests/t_dns.sh,
# is dnsmasq's executable without the system daemon that the dnsmasq package would start).
DEBS := build-essential pkg-config libglib2.0-dev libyaml-dev libcunit1-dev tshark \
        gnuplot-nox libigraph-dev libosip2-dev python3 sip-tester nftables libssl-dev \
        baresip-core libc-ares-dev dnsmasq-base
# Only `make fuzz` needs these (clang and its libFuzzer runtime); `make test` and CI do not.
FUZZ_DEBS := clang-14 libclang-rt-14-dev

# ---- objects ----------------------------------------------------------------------------------
CORE_OBJS := core/id.o core/env.o core/wire.o core/storage.o core/chord.o core/bamboo.o \
             core/superpeer.o core/node.o core/service.o core/ice.o core/configupdate.o \
             core/appdata.o core/adversary.o core/redundant.o core/access.o core/client.o
SIM_OBJS  := sim/engine.o sim/scenario.o sim/dist.o sim/underlay.o sim/churn.o sim/world.o \
             sim/pcap.o sim/sweep.o sim/expect.o sim/nat.o sim/sipua.o sim/cli.o \
             sim/secmodel.o
ANA_OBJS  := analysis/graph.o analysis/plot.o analysis/compare.o
NET_OBJS  := net/udp.o net/cli.o net/bootstrap.o net/bootserver.o net/dns.o net/overlays.o net/security.o
CONFIG_OBJS := config/config.o
SIP_OBJS  := sip/usage.o sip/resolve.o sip/registrar.o sip/proxy.o sip/router.o
SEC_OBJS  := sec/cred.o sec/sig.o sec/provider.o sec/confsig.o sec/cli.o
CLI_OBJS  := cli/main.o
TEST_OBJS := tests/main.o tests/fake_env.o tests/ring.o tests/world_util.o tests/test_id.o tests/test_wire.o tests/test_node.o \
             tests/test_storage.o tests/test_engine.o tests/test_scenario.o tests/test_world.o \
             tests/test_dist.o tests/test_underlay.o tests/test_churn.o tests/test_graph.o \
             tests/test_sweep.o tests/test_expect.o tests/test_plot.o tests/test_bamboo.o \
             tests/test_superpeer.o tests/test_nat.o tests/test_ice.o tests/test_sip.o tests/test_election.o \
             tests/test_service.o tests/test_sipsim.o tests/test_config.o tests/test_sec.o \
             tests/test_secmodel.o tests/test_nodesec.o tests/test_adversary.o tests/test_client.o

GIT_REV  := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
sim/cli.o: CPPFLAGS += -DP2PSIP_GIT_REV='"$(GIT_REV)"'

BIN := p2psip
# The fuzz targets (docs/fuzzing.md) built with $(CC) and a plain main, to replay inputs in tests.
FUZZ_OBJS := fuzz/replay.o fuzz/fuzz_env.o fuzz/fuzz_wire.o fuzz/fuzz_topology.o fuzz/fuzz_sip.o \
             fuzz/fuzz_scenario.o fuzz/fuzz_config.o fuzz/fuzz_cert.o
ALL_OBJS := $(CORE_OBJS) $(SIM_OBJS) $(ANA_OBJS) $(NET_OBJS) $(SIP_OBJS) $(CONFIG_OBJS) $(CLI_OBJS) $(SEC_OBJS) \
            $(TEST_OBJS) $(FUZZ_OBJS)

.PHONY: all deps test unit-test script-test demo bench reference check-purity fuzz format clean
all: deps $(BIN)

# ---- Debian packages: installed when run as root, else the exact command is printed -----------
DEPS_STAMP := .deps-ok
deps: $(DEPS_STAMP)
$(DEPS_STAMP): Makefile
	$(call need_debs,$(DEBS))
	@touch $@
define need_debs
@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing || exit 1; \
	  else \
	    echo "p2psip needs Debian packages that are missing. Run as root:" >&2; \
	    echo "  apt-get update && apt-get install -y$$missing" >&2; exit 1; \
	  fi; \
	fi
endef

libp2psip-core.a: $(CORE_OBJS)
	$(AR) rcs $@ $^

$(BIN): $(CLI_OBJS) $(SIM_OBJS) $(ANA_OBJS) $(NET_OBJS) $(SIP_OBJS) $(CONFIG_OBJS) $(SEC_OBJS) libp2psip-core.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)

# Every object waits for the packages (order-only: the stamp's time does not force rebuilds).
$(ALL_OBJS): | $(DEPS_STAMP)

tests/run_tests: $(TEST_OBJS) $(SIM_OBJS:sim/cli.o=) $(ANA_OBJS) $(SIP_OBJS) $(CONFIG_OBJS) $(SEC_OBJS:sec/cli.o=) \
                 libp2psip-core.a
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS) $(TEST_LDLIBS)

# ---- tests ------------------------------------------------------------------------------------
# Unit suites (CUnit), then the end-to-end scripts (scenarios, real UDP peers, tshark).
test: all check-purity tests/run_tests
	./tests/run_tests
	@set -e; for t in tests/t_*.sh; do echo "== $$t"; bash $$t; done
	@echo "make test: all suites passed"

unit-test: tests/run_tests
	./tests/run_tests

# ---- demo and benchmarks ----------------------------------------------------------------------
demo: all
	./$(BIN) sim scenarios/chord-churn.yaml

bench: all
	bash tests/bench.sh

# The topology comparison's reference results (results/reference/compare/, ~30 min).
reference: all
	bash analysis/reference-compare.sh

# ---- core/ and sip/ stay sans-I/O -------------------------------------------------------------
PURITY_RE := '(^|[^>._[:alnum:]])(socket|bind|connect|sendto|recvfrom|sendmsg|recvmsg|select|poll|epoll_[a-z]+|clock_gettime|gettimeofday|time|rand|srand|random|srandom|drand48|g_get_monotonic_time|g_get_real_time|g_main_[a-z_]+|g_timeout_add[a-z_]*|g_idle_add[a-z_]*|g_random_[a-z_]+|g_rand_[a-z_]+|fopen|printf|fprintf)[[:space:]]*\(|\#include[[:space:]]*<(sys/socket|netinet/[a-z]+|arpa/inet|time|sys/time|unistd|stdio)\.h>'
# A call through a struct member (env->ops->random) is the env, not the C library.  sip/'s
# libosip2 headers pull in <stdio.h> themselves; the grep reads only our own text.
check-purity:
	@if grep -nE $(PURITY_RE) core/*.c core/*.h sip/*.c sip/*.h; then \
	  echo "check-purity: core/ and sip/ must reach the world only through core/env.h" >&2; exit 1; \
	else echo "check-purity: core/ and sip/ are sans-I/O"; fi

# ---- fuzzing (docs/fuzzing.md): libFuzzer targets under ASan+UBSan, built apart in fuzz/out/ ---
# `make fuzz` runs each target FUZZ_SECONDS (60); `make fuzz FUZZ_RUNS=1000000` a fixed count.
FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_RUNS    ?=
FUZZ_TARGETS := wire sip scenario topology config cert
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=c11 -O1 -g $(WARN) -fsanitize=fuzzer-no-link $(FUZZ_SAN) \
                $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
fuzz/out/obj/%.o: %.c | fuzz/out/.deps-ok
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -c $< -o $@
fuzz/out/.deps-ok:
	$(call need_debs,$(FUZZ_DEBS))
	@mkdir -p $(@D) && touch $@
# Each target's objects: linked with libFuzzer as fuzz/out/fuzz_T (clang, instrumented, in
# fuzz/out/obj/), and with fuzz/replay.o as fuzz/out/replay_T (the normal build, for tests).
FUZZ_wire     := fuzz/fuzz_wire.o fuzz/fuzz_env.o $(CORE_OBJS)
FUZZ_topology := fuzz/fuzz_topology.o fuzz/fuzz_env.o $(CORE_OBJS)
FUZZ_sip      := fuzz/fuzz_sip.o fuzz/fuzz_env.o $(SIP_OBJS) $(CORE_OBJS)
FUZZ_scenario := fuzz/fuzz_scenario.o sim/scenario.o $(CONFIG_OBJS) $(CORE_OBJS)
FUZZ_config   := fuzz/fuzz_config.o $(CONFIG_OBJS) $(CORE_OBJS)
FUZZ_cert     := fuzz/fuzz_cert.o sec/cred.o sec/sig.o $(CONFIG_OBJS) $(CORE_OBJS)
$(foreach t,$(FUZZ_TARGETS),$(eval fuzz/out/fuzz_$(t): $(addprefix fuzz/out/obj/,$(FUZZ_$(t)))))
$(foreach t,$(FUZZ_TARGETS),$(eval fuzz/out/replay_$(t): fuzz/replay.o $(FUZZ_$(t))))
fuzz/out/fuzz_%:
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(LDLIBS)
fuzz/out/replay_%:
	@mkdir -p $(@D)
	$(CC) $(LDSAN) -o $@ $^ $(LDLIBS)
fuzz: $(FUZZ_TARGETS:%=fuzz/out/fuzz_%)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_RUNS=$(FUZZ_RUNS) bash fuzz/run.sh $(FUZZ_TARGETS)
# tests/t_fuzz.sh replays the seed corpora and fuzz/regress/ through these.
test: $(FUZZ_TARGETS:%=fuzz/out/replay_%)
-include $(wildcard fuzz/out/obj/*/*.d)

format:
	clang-format -i core/*.[ch] sim/*.[ch] net/*.[ch] sip/*.[ch] config/*.[ch] sec/*.[ch] cli/*.c tests/*.[ch]

clean:
	rm -f $(BIN) libp2psip-core.a tests/run_tests $(ALL_OBJS) $(ALL_OBJS:.o=.d) fuzz/out/replay_*

-include $(ALL_OBJS:.o=.d)
