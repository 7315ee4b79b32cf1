# SPDX-License-Identifier: GPL-2.0
# kho-tool top-level build.  `make help` lists the targets.
#
# DEVELOPER=1                  turn warnings into errors
# SANITIZE=address,undefined   build with sanitizers
# KHO_CACHE=DIR                where kernels and images are cached
#                              (default ~/.cache/kho-tool)

CC       ?= cc
BUILD    ?= build
KHO_CACHE ?= $(HOME)/.cache/kho-tool
export KHO_CACHE

UAPI     := include/uapi-7.2
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wshadow \
	    -Wstrict-prototypes -Wmissing-prototypes -fno-strict-aliasing \
	    -D_GNU_SOURCE -I$(UAPI) -Ilib -MMD -MP
ifeq ($(DEVELOPER),1)
CFLAGS   += -Werror
endif
# -fno-sanitize-recover: a UBSan report aborts the program, so that it
# fails the test that ran it instead of scrolling past (ASan already stops).
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all \
	    -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
endif

LIBS     := -lfdt -lelf -lz -llzma -lzstd

# The agent and the kselftests run from a bare initramfs, so they link
# static; ASan cannot, so a sanitizer build links them dynamically.
ifeq ($(SANITIZE),)
STATIC   := -static
endif

LIB_SRC    := $(sort $(wildcard lib/*.c))
TOOL_SRC   := $(sort $(wildcard kho-tool/*.c))
AGENT_SRC  := $(sort $(wildcard restore-agent/*.c))
REC_SRC    := $(sort $(wildcard recorder/*.c))
# The recorder without its LD_PRELOAD wrappers: the API a VMM links.
RECLIB_SRC := $(filter-out recorder/preload.c,$(REC_SRC))
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
UNIT_HELP  := $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c))
VMM_SRC    := $(sort $(wildcard tests/vmm/*.c))
BENCH_SRC  := $(sort $(wildcard bench/*.c))
# The model-based test's guest program (tests/model/, docs/testing.md).
MODEL_SRC  := $(sort $(wildcard tests/model/*.c))
# Small dynamic programs the recorder's VM test runs under LD_PRELOAD.
RECTEST_SRC := $(sort $(wildcard tests/recorder/*.c))
# A stand-in for luod, the LUO agent kho-tool is a client of (tests/luod/).
LUOD_SRC   := $(sort $(wildcard tests/luod/*.c))

LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB_PIC    := $(LIB_SRC:%.c=$(BUILD)/pic/%.o)
TOOL_OBJ   := $(TOOL_SRC:%.c=$(BUILD)/obj/%.o)
AGENT_OBJ  := $(AGENT_SRC:%.c=$(BUILD)/obj/%.o)
REC_PIC    := $(REC_SRC:%.c=$(BUILD)/pic/%.o)
RECLIB_OBJ := $(RECLIB_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_HOBJ  := $(UNIT_HELP:%.c=$(BUILD)/obj/%.o)
BENCH_BIN  := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
RECTEST_BIN := $(RECTEST_SRC:tests/recorder/%.c=$(BUILD)/bin/%)
LUOD_BIN   := $(LUOD_SRC:tests/luod/%.c=$(BUILD)/bin/%)

LIBKHO     := $(BUILD)/lib/libkho.a
LIBREC     := $(BUILD)/lib/libkho-recorder.a
KHO_TOOL   := $(BUILD)/bin/kho-tool
AGENT      := $(BUILD)/bin/restore-agent
RECORDER   := $(BUILD)/lib/libkho-record.so
TEST_VMM   := $(BUILD)/bin/test-vmm
KHO_MODEL  := $(BUILD)/bin/kho-model

TARGETS := $(LIBKHO) $(LIBREC) $(KHO_TOOL)
ifneq ($(AGENT_SRC),)
TARGETS += $(AGENT)
endif
ifneq ($(REC_SRC),)
TARGETS += $(RECORDER)
endif
ifneq ($(VMM_SRC),)
TARGETS += $(TEST_VMM)
endif
ifneq ($(RECTEST_SRC),)
TARGETS += $(RECTEST_BIN) $(LUOD_BIN)
endif
ifneq ($(MODEL_SRC),)
TARGETS += $(KHO_MODEL)
endif

.PHONY: all deps check check-unit check-vm check-schema check-fuzz prepare bench fuzz demo demo-qemu \
	kernel kernels initramfs install clean help programs deb check-distro check-cpr check-ansible \
	check-matrix check-fleet matrix-kernels matrix-cached
all: $(TARGETS)

# What `make install` and the Debian package ship.
PROGRAMS := $(KHO_TOOL) $(if $(AGENT_SRC),$(AGENT)) $(if $(REC_SRC),$(RECORDER))
programs: $(PROGRAMS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# Objects of the preload recorder only: see recorder/exports.map.
$(BUILD)/pic/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -flto -c -o $@ $<

$(LIBKHO): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

# The recorder sits above lib/: it uses libkho, nothing in lib/ uses it.
$(LIBREC): $(RECLIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

# Programs that link the recorder API see recorder/record.h.
$(BUILD)/obj/tests/model/%.o: CFLAGS += -Irecorder

$(KHO_TOOL): $(TOOL_OBJ) $(LIBKHO)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(TOOL_OBJ) $(LIBKHO) $(LIBS)

# The agent runs from an initramfs with no shared libraries: link it static.
$(AGENT): $(AGENT_OBJ) $(LIBKHO)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $(STATIC) -o $@ $(AGENT_OBJ) $(LIBKHO) $(LIBS)

$(RECORDER): $(REC_PIC) $(LIB_PIC) recorder/exports.map
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -flto=auto -shared \
		-Wl,--version-script=recorder/exports.map \
		-o $@ $(REC_PIC) $(LIB_PIC) $(LIBS) -ldl

# The test VMM runs inside the guest; it stays dynamic so that the
# LD_PRELOAD recorder can wrap it, as it would wrap a real VMM, and it
# exports kho_adopt_set_notify() so that the recorder hears of its
# adoptions (recorder/preload.c).
VMM_LDFLAGS := -Wl,--export-dynamic-symbol=kho_adopt_set_notify
$(TEST_VMM): $(VMM_SRC:%.c=$(BUILD)/obj/%.o) $(LIBKHO)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $(VMM_LDFLAGS) -o $@ $^ $(LIBS)

# Links the recorder API like a VMM that records itself; runs in the guest.
$(KHO_MODEL): $(MODEL_SRC:%.c=$(BUILD)/obj/%.o) $(LIBREC) $(LIBKHO)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# Plain libc, dynamic, like an unmodified VMM the recorder wraps.
$(RECTEST_BIN): $(BUILD)/bin/%: tests/recorder/%.c
	@mkdir -p $(@D) $(BUILD)/obj/tests/recorder
	$(CC) $(CFLAGS) -MF $(BUILD)/obj/tests/recorder/$*.d $(LDFLAGS) -o $@ $<

$(LUOD_BIN): $(BUILD)/bin/%: tests/luod/%.c
	@mkdir -p $(@D) $(BUILD)/obj/tests/luod
	$(CC) $(CFLAGS) -MF $(BUILD)/obj/tests/luod/$*.d $(LDFLAGS) -o $@ $<

# test_model runs the model-based test's generator against lib/state.c.
UNIT_EXTRA_test_model := $(BUILD)/obj/tests/model/gen.o
$(BUILD)/tests/test_model: $(UNIT_EXTRA_test_model)

# test_initrd scans initrds with kho-tool's own scanner.
UNIT_EXTRA_test_initrd := $(BUILD)/obj/kho-tool/initrd.o
$(BUILD)/tests/test_initrd: $(UNIT_EXTRA_test_initrd)
$(BUILD)/tests/test_initrd: CFLAGS += -Ikho-tool

$(BUILD)/tests/%: tests/unit/%.c $(UNIT_HOBJ) $(LIBREC) $(LIBKHO)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -Itests/unit -Itests/model -Irecorder -o $@ $< \
		$(UNIT_HOBJ) $(UNIT_EXTRA_$*) $(LIBREC) $(LIBKHO) $(LIBS)

$(BUILD)/bench/%: bench/%.c $(LIBKHO)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBKHO) $(LIBS)

# Guest programs for the kernel series' VM tests (tests/kselftest/*.c), one
# static binary each in $(BUILD)/bin so tests/vm/launch.sh ships them; they
# see the patched uapi through include/kho-patched.
KSELFTEST_SRC := $(sort $(wildcard tests/kselftest/*.c))
KSELFTEST_BIN := $(KSELFTEST_SRC:tests/kselftest/%.c=$(BUILD)/bin/%)
TARGETS += $(KSELFTEST_BIN)
all: $(KSELFTEST_BIN)

$(KSELFTEST_BIN): $(BUILD)/bin/%: tests/kselftest/%.c
	@mkdir -p $(@D) $(BUILD)/obj/tests/kselftest
	$(CC) $(CFLAGS) -Iinclude/kho-patched -MF $(BUILD)/obj/tests/kselftest/$*.d \
		$(LDFLAGS) $(STATIC) -o $@ $<

# The replay-order loop of bench/order-vm.sh, shipped to every guest:
# tests/vm/080 counts what patches/0005 saves with it.
ORDER_LOOP := $(BUILD)/bin/order-loop
TARGETS += $(ORDER_LOOP)
all: $(ORDER_LOOP)
$(ORDER_LOOP): bench/guest/order-loop.c tests/vmm/vmm.c tests/vmm/vmm.h
	@mkdir -p $(@D) $(BUILD)/obj/bench/guest
	$(CC) $(CFLAGS) -Iinclude/uapi-7.2 -Itests/vmm \
		-MF $(BUILD)/obj/bench/guest/order-loop.d $(LDFLAGS) $(STATIC) \
		-o $@ bench/guest/order-loop.c tests/vmm/vmm.c

# The L2 guest of the cpr-transfer test: a 32-bit multiboot program.
CPR_PAYLOAD := $(BUILD)/tests/cpr/payload.elf
$(CPR_PAYLOAD): tests/cpr/payload.c tests/cpr/payload.ld
	@mkdir -p $(@D)
	$(CC) -m32 -march=i686 -ffreestanding -fno-pic -fno-pie -no-pie \
		-fno-stack-protector -fno-asynchronous-unwind-tables -O2 -nostdlib \
		-static -Wl,-T,tests/cpr/payload.ld -Wl,--build-id=none \
		-Wl,--no-warn-rwx-segments -o $@ tests/cpr/payload.c

# 110's memory failure on a QEMU's guest RAM, in the host image.
CPR_HWPOISON := $(BUILD)/tests/cpr/hwpoison
$(CPR_HWPOISON): tests/cpr/hwpoison.c $(LIBKHO)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $(STATIC) -o $@ $< $(LIBKHO) $(LIBS)

CPR_MCE_LATE := $(BUILD)/tests/cpr/mce-late.so
$(CPR_MCE_LATE): tests/cpr/mce-late.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -shared $(LDFLAGS) -o $@ $<

# kho-tool as QEMU 11.1's cpr-transfer peer, on one kernel (docs/qemu-cpr.md).
check-cpr: all $(CPR_PAYLOAD)
	BUILD=$(BUILD) ./tests/cpr/roundtrip.sh

deps:
	./tests/rig/install-deps.sh

# Kernels first, so the unit tests that read real images (test_kimage) run
# on them instead of passing over them.
check: prepare check-unit check-schema check-fuzz check-distro check-ansible check-cpr check-vm

check-unit: all $(UNIT_BIN)
	./tests/unit/run.sh $(UNIT_BIN)

check-schema: all
	./fdt-schema/check.sh $(KHO_TOOL)

check-vm: all
	BUILD=$(BUILD) ./tests/vm/run.sh

# The kernel-version matrix (tests/vm/105-cross-version.bats): every pair,
# and docs/compat-matrix.md written from what it measured; and upstream's
# selftests on the 7.3.4 kernels (106).  `make check` runs one of 105's
# pairs; .ci/run runs this when matrix-cached says its
# kernels are built (docs/testing.md).
MATRIX_KERNELS := vanilla patched vanilla-7.3.4 patched-7.3.4 vanilla-7.2.6
matrix-kernels:
	@for f in $(MATRIX_KERNELS); do \
		t0=$$(date +%s); ./tests/rig/build-kernel.sh $$f > /dev/null || exit 1; \
		echo "matrix-kernels: $$f ready in $$(( $$(date +%s) - t0 )) s"; done
matrix-cached:
	@for f in $(MATRIX_KERNELS); do \
		./tests/rig/build-kernel.sh --cached $$f > /dev/null 2>&1 || \
			{ echo "matrix-cached: $$f is not built"; exit 1; }; done
check-matrix: all
	rm -rf $(BUILD)/vm-logs/compat-matrix
	BUILD=$(BUILD) ./tests/vm/run.sh tests/vm/105-cross-version.bats \
		tests/vm/106-upstream-selftests-7.3.bats; rc=$$?; \
	BUILD=$(BUILD) ./tests/vm/compat-matrix.sh $(BUILD)/vm-logs/compat-matrix docs/compat-matrix.md || rc=1; \
	exit $$rc

# The Ansible fleet rollout (tests/vm/130-fleet.bats): three L1 hosts at
# once, so it runs alone, outside make check; .ci/run runs it last
# (docs/testing.md).
check-fleet: all
	BUILD=$(BUILD) KHO_VM_LANES=1 ./tests/vm/run.sh tests/vm/130-fleet.bats

# Host benches first, then the ones that need a guest, under -icount (the
# replay order with its VT-d invalidation counts, also on the wall clock;
# the recorder's cost per ioctl; the agent's restore against a bare restore
# of the same ioctls from 1 to 65,536 mappings and a 3 GiB memfd; replay
# length over live mappings on both kernels; an upgrade against a plain
# kexec), each one run.  docs/benchmarks.md.
BENCH_VM := $(sort $(wildcard bench/*-vm.sh))
bench: all $(BENCH_BIN)
	BUILD=$(BUILD) ./bench/run.sh $(BENCH_BIN) $(BENCH_VM)

# libFuzzer targets (fuzz/, docs/fuzzing.md).  clang compiles the library
# sources into each fuzzer with the sanitizers: the gcc libkho.a carries no
# coverage instrumentation.  Each runs FUZZ_SECONDS; all run, then any crash
# (ASan, UBSan, a differential abort) fails the target.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SRC     := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN     := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_CFLAGS  := -g -O1 -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wshadow \
		-Wstrict-prototypes -Wmissing-prototypes -fno-strict-aliasing \
		-D_GNU_SOURCE -I$(UAPI) -Ilib -fno-omit-frame-pointer \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
ifeq ($(DEVELOPER),1)
FUZZ_CFLAGS  += -Werror
endif
# Seeds, read-only: new inputs go to $(BUILD)/fuzz/corpus/NAME.  The state
# fuzzer has none; it starts at full length (-len_control=0) because short
# inputs make journals of a handful of records.
FUZZ_SEEDS_handoff_decode := tests/data/good tests/data/bad
FUZZ_SEEDS_kimage         := $(BUILD)/fuzz/seeds/kimage
FUZZ_SEEDS_cpr_state      := $(BUILD)/fuzz/seeds/cpr_state

$(BUILD)/fuzz/%: fuzz/%.c $(LIB_SRC) $(wildcard lib/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRC) $(LIBS)

# The CPR state fuzzer's input starts with the number of fds that arrived.
$(BUILD)/fuzz/seeds/cpr_state: $(wildcard tests/data/cpr/*.cpr)
	rm -rf $@
	mkdir -p $@
	for f in $^; do { printf '\006'; cat $$f; } > $@/$${f##*/}; done

$(BUILD)/fuzz/seeds/kimage: fuzz/gen-kimage-seeds.sh
	rm -rf $@
	CC=$(FUZZ_CC) ./fuzz/gen-kimage-seeds.sh $@

# make check builds every fuzzer and runs each over its seeds once
# (-runs=0): a fuzzer that no longer compiles, or a seed that crashes,
# fails the check, as a lost line once did unnoticed.
check-fuzz: $(FUZZ_BIN) $(BUILD)/fuzz/seeds/kimage $(BUILD)/fuzz/seeds/cpr_state $(BUILD)/fuzz/seeds/cpr_state
	@set -e; for f in $(FUZZ_BIN); do \
		n=$${f##*/fuzz_}; seeds=; \
		case $$n in \
		handoff_decode) seeds="$(FUZZ_SEEDS_handoff_decode)";; \
		kimage) seeds="$(FUZZ_SEEDS_kimage)";; \
		cpr_state) seeds="$(FUZZ_SEEDS_cpr_state)";; \
		esac; \
		if [ -n "$$seeds" ]; then \
			$$f -runs=0 $$seeds > $(BUILD)/fuzz/$$n.seeds.log 2>&1 || \
			{ tail -n 20 $(BUILD)/fuzz/$$n.seeds.log; \
			  echo "fuzz: $$n: a seed failed"; exit 1; }; \
		else \
			$$f -runs=2000 -seed=1 -len_control=0 > $(BUILD)/fuzz/$$n.seeds.log 2>&1 || \
			{ tail -n 20 $(BUILD)/fuzz/$$n.seeds.log; \
			  echo "fuzz: $$n: 2000 runs failed"; exit 1; }; \
		fi; \
		echo "fuzz: $$n builds and runs its seeds"; \
	done

fuzz: $(FUZZ_BIN) $(BUILD)/fuzz/seeds/kimage
	@set -e; failed=; for f in $(FUZZ_BIN); do \
		n=$${f##*/fuzz_}; \
		opts=; seeds=; \
		case $$n in \
		handoff_decode) seeds="$(FUZZ_SEEDS_handoff_decode)";; \
		kimage) seeds="$(FUZZ_SEEDS_kimage)";; \
		cpr_state) seeds="$(FUZZ_SEEDS_cpr_state)";; \
		state_apply) opts=-len_control=0;; \
		esac; \
		mkdir -p $(BUILD)/fuzz/corpus/$$n; \
		echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -timeout=25 -rss_limit_mb=4096 \
			-print_final_stats=1 $$opts \
			-artifact_prefix=$(BUILD)/fuzz/$$n- \
			$(BUILD)/fuzz/corpus/$$n $$seeds 2>$(BUILD)/fuzz/$$n.log || \
			{ tail -n 40 $(BUILD)/fuzz/$$n.log; \
			  echo "fuzz: $$n FAILED (log $(BUILD)/fuzz/$$n.log)"; \
			  failed="$$failed $$n"; continue; }; \
		grep -h '^stat::number_of_executed_units' $(BUILD)/fuzz/$$n.log; \
	done; \
	[ -z "$$failed" ] || { echo "fuzz: crashed:$$failed"; exit 1; }

# The four guest kernels and upstream's selftests; `prepare` also builds
# the distro checks' sid roots alongside them (tests/rig/prepare.sh).
kernel kernels:
	./tests/rig/prepare.sh --no-roots

prepare:
	./tests/rig/prepare.sh

demo: all
	./tests/vm/demo.sh

# An unmodified QEMU 11.1 guest across a kexec of its host (the sid host
# image as L1; docs/qemu-cpr.md).
demo-qemu: all
	./tests/vm/demo-qemu.sh

# prefix=/usr by default; the Debian package (debian/rules) uses the same.
prefix ?= /usr
install: programs
	install -D -m 0755 $(KHO_TOOL) $(DESTDIR)$(prefix)/sbin/kho-tool
	$(if $(AGENT_SRC),install -D -m 0755 $(AGENT) $(DESTDIR)$(prefix)/lib/kho-tool/restore-agent)
	$(if $(REC_SRC),install -D -m 0644 $(RECORDER) $(DESTDIR)$(prefix)/lib/kho-tool/libkho-record.so)
	for m in docs/man/*.[0-9]; do \
		[ -e "$$m" ] || continue; \
		install -D -m 0644 $$m $(DESTDIR)$(prefix)/share/man/man$${m##*.}/$${m##*/}; \
	done
	# The agent's start script, shared by the initramfs-tools script, the
	# dracut hook and the project's own initramfs (initramfs/init.d).
	install -D -m 0755 initramfs/init.d/10-restore-agent \
		$(DESTDIR)$(prefix)/lib/kho-tool/init.d/10-restore-agent
	install -D -m 0755 distro/initramfs-tools/hooks/kho-tool \
		$(DESTDIR)$(prefix)/share/initramfs-tools/hooks/kho-tool
	install -D -m 0755 distro/initramfs-tools/scripts/init-premount/kho-tool \
		$(DESTDIR)$(prefix)/share/initramfs-tools/scripts/init-premount/kho-tool
	install -D -m 0755 distro/dracut/90kho-tool/module-setup.sh \
		$(DESTDIR)$(prefix)/lib/dracut/modules.d/90kho-tool/module-setup.sh
	install -D -m 0755 distro/dracut/90kho-tool/kho-tool-restore.sh \
		$(DESTDIR)$(prefix)/lib/dracut/modules.d/90kho-tool/kho-tool-restore.sh
	# The units for a host where systemd owns LUO (docs/operations.md).
	for u in distro/systemd/*; do \
		install -D -m 0644 $$u $(DESTDIR)$(prefix)/lib/systemd/system/$${u##*/}; \
	done

# The Debian package, built with dpkg-buildpackage from a copy of the
# tracked sources under $(BUILD)/deb (the .deb lands there, not in ..).
DEB_VERSION := $(shell dpkg-parsechangelog -l debian/changelog -S Version 2>/dev/null)
DEB_FILE    := $(BUILD)/deb/kho-tool_$(DEB_VERSION)_amd64.deb
deb: $(DEB_FILE)
# Rebuilt only when a tracked file changed (a warm make check reuses it).
$(DEB_FILE): $(shell git ls-files 2>/dev/null)
	rm -rf $(BUILD)/deb/src
	mkdir -p $(BUILD)/deb/src/kho-tool-$(DEB_VERSION)
	git ls-files -z --cached --others --exclude-standard | \
		xargs -0 cp --parents -t $(BUILD)/deb/src/kho-tool-$(DEB_VERSION)
	cd $(BUILD)/deb/src/kho-tool-$(DEB_VERSION) && \
		dpkg-buildpackage -us -uc -b --no-sign > ../build.log 2>&1 || \
		{ tail -n 40 ../build.log; exit 1; }
	mv $(BUILD)/deb/src/kho-tool_$(DEB_VERSION)_*.deb $(BUILD)/deb/
	rm -rf $(BUILD)/deb/src
	@ls $@

# The package in Debian chroots (lintian, dpkg, update-initramfs, dracut)
# and the initrds the VM test 100-distro-initrd boots (tests/distro/).
check-distro: $(DEB_FILE)
	BUILD=$(BUILD) ./tests/distro/check.sh $(DEB_FILE)

# Debian sid's ansible-lint on the collection, in the controller root.
check-ansible:
	cd ansible && ../tests/rig/ansible.sh $(abspath $(BUILD))/ansible ansible-lint

clean:
	rm -rf $(BUILD)

help:
	@echo 'make              build kho-tool, restore-agent, recorder, test VMM'
	@echo 'make deps         install every Debian package the project needs'
	@echo 'make check        every test: unit, schema, VM (builds the kernels)'
	@echo 'make check-unit   C unit tests'
	@echo 'make check-schema dt-validate and the C validator agree on tests/data'
	@echo 'make check-vm     BATS suites that boot QEMU guests and kexec'
	@echo 'make check-matrix upgrades across kernel versions, docs/compat-matrix.md'
	@echo 'make check-fleet  the Ansible rollout on three L1 hosts (alone, ~26 min)'
	@echo 'make matrix-kernels  build the matrix kernels (7.2.6, 7.2.13, 7.3.4)'
	@echo 'make bench        benchmarks; print ratios measured in one run'
	@echo 'make fuzz         libFuzzer targets, FUZZ_SECONDS each (clang)'
	@echo 'make check-fuzz   build the fuzzers, run each over its seeds once'
	@echo 'make kernels      build (or fetch from cache) both guest kernels'
	@echo 'make demo         upgrade demo in a QEMU guest'
	@echo 'make demo-qemu    an unmodified QEMU guest across a kexec of its host (nested)'
	@echo 'make install      install into DESTDIR'
	@echo 'make deb          the Debian package, in $$(BUILD)/deb'
	@echo 'make check-distro the package in Debian sid chroots: lintian, initrds'
	@echo 'make check-ansible ansible-lint on the Ansible collection (ansible/)'
	@echo 'make check-cpr    QEMU 11.1 through cpr-transfer to kho-tool and back (sid chroot)'

# Dependency files live under obj/ and pic/ only: $(BUILD) also holds
# Debian roots (tests/distro) whose files may end in .d.
-include $(shell find $(BUILD)/obj $(BUILD)/pic -name '*.d' -type f 2>/dev/null)
