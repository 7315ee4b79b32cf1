# SPDX-License-Identifier: GPL-2.0
# Upstream's own selftests (tests/rig/build-selftests.sh), shipped in
# /test/selftests, run in this guest for tests/vm/095-upstream-selftests.bats.
#
# /test/upstream.env sets:
#   KHOTEST_SELFTESTS     kselftest-harness programs to run here, in order
#                         (iommufd iommufd_fail_nth liveupdate)
#   KHOTEST_LUO_TESTS     two-stage luo_* programs, chained across kexecs:
#                         each one runs stage 1, kexec to the other kernel,
#                         stage 2; then the same the other way round
#   KHOTEST_LUO_KERNELS   "FIRST OTHER": the kernel the guest boots, the one
#                         it kexecs to (vanilla patched); they alternate
#   KHOTEST_HUGEPAGES     huge pages to reserve first (iommufd's hugepage
#                         variants need a pool)
#   KHOTEST_TEST_TIMEOUT  seconds one test may run before it counts as hung
#                         (default 120; the harness kills its own tests at
#                         30 s unless a test sets more)
#   KHOTEST_PROG_TIMEOUT  seconds one program may run in all (default 1500)
#
# Output, read by the suite from the serial log:
#   KHOTEST: TAP PROG: LINE          the program's output, as it comes
#   KHOTEST: RESULT PROG TEST R      one per TAP result, R one of pass, fail,
#                                    skip, xfail, xpass
#   KHOTEST: HUNG PROG TEST          the harness killed TEST by its own
#                                    timeout, or TEST ran past
#                                    KHOTEST_TEST_TIMEOUT; the program is
#                                    stopped there (its later tests do not run)
#   KHOTEST: LOG PROG_exit=N, PROG_plan=N, PROG_secs=N, slow=PROG:TEST:SECS
#
# Output goes through a file, never a pipe: a test stuck in D state keeps
# its output open, and a pipe would never see its end.
. /test/upstream.env

ST=/test/selftests
test_timeout=${KHOTEST_TEST_TIMEOUT:-120}
prog_timeout=${KHOTEST_PROG_TIMEOUT:-1500}
hung_any=

# blocked_tasks: dump every task in D state, with its stack, to the serial
# log (sysrq w), so that a hang names the lock it waits for.
blocked_tasks() {
	echo w > /proc/sysrq-trigger 2>/dev/null || true
}

# running_test FILE: the test whose "#  RUN" line has no result line yet.
running_test() {
	awk '/^#  RUN /{ r = $3 } /^(not )?ok [0-9]+ /{ r = "" } END { print r }' "$1"
}

# timed_out_test FILE: the first test the harness killed by its timeout,
# by its full name (the harness's own message names the test alone).
timed_out_test() {
	awk '/^#  RUN /{ r = $3 } /: Test terminated by timeout/{ print r; exit }' "$1"
}

# ksft_run PROG [ARGS...]: run one program with its output in
# /tmp/PROG.tap, echoed to the console line by line as it grows; a test
# that runs past the per-test timeout is reported hung (with the blocked
# tasks' stacks) and the program killed; afterwards every TAP result is
# printed as a RESULT line.  Returns the program's exit status (124 for a
# hang).
ksft_run() {
	local prog="$1" out="/tmp/$1.tap" pid n=0 m cur='' prev='' since start now rc=0 hung='' polls=0

	shift
	start=$(date +%s)
	since=$start
	"$ST/$prog" "$@" > "$out" 2>&1 < /dev/null &
	pid=$!
	while :; do
		alive=0
		kill -0 "$pid" 2>/dev/null && alive=1
		m=$(wc -l < "$out")
		if [ "$m" -gt "$n" ]; then
			sed -n "$((n + 1)),${m}p" "$out" | sed "s/^/KHOTEST: TAP $prog: /"
			n=$m
		fi
		[ "$alive" = 1 ] || break
		now=$(date +%s)
		cur=$(running_test "$out")
		if [ "$cur" != "$prev" ]; then
			[ -n "$prev" ] && [ $((now - since)) -ge 10 ] &&
				khotest_log "slow=$prog:$prev:$((now - since))"
			prev=$cur
			since=$now
		fi
		# The harness kills a test at its own timeout (30 s unless the
		# test sets more) and goes on; a test in D state cannot die and
		# the next ones may queue behind its lock: stop at the first.
		hung=$(timed_out_test "$out")
		if [ -n "$hung" ]; then
			:
		elif [ -n "$cur" ] && [ $((now - since)) -ge "$test_timeout" ]; then
			hung=$cur
		elif [ $((now - start)) -ge "$prog_timeout" ]; then
			hung=${cur:-"(between tests)"}
		fi
		if [ -n "$hung" ]; then
			echo "KHOTEST: HUNG $prog $hung"
			blocked_tasks
			# The harness parent is not in D state: this ends the
			# program, not its stuck child, which stays behind.
			kill -KILL "$pid" 2>/dev/null
			rc=124
			hung_any="$hung_any $prog:$hung"
			break
		fi
		# Look often at first: most runs (a luo_* stage) end within a
		# second, and each look costs little next to a whole second.
		polls=$((polls + 1))
		if [ "$polls" -le 10 ]; then usleep 200000; else sleep 1; fi
	done
	if [ -z "$hung" ]; then
		wait "$pid" || rc=$?
		# A timeout in the program's last moments, after the last look.
		hung=$(timed_out_test "$out")
		if [ -n "$hung" ]; then
			echo "KHOTEST: HUNG $prog $hung"
			blocked_tasks
			hung_any="$hung_any $prog:$hung"
		fi
	fi
	# What came after the last look.
	m=$(wc -l < "$out")
	[ "$m" -gt "$n" ] && sed -n "$((n + 1)),${m}p" "$out" | sed "s/^/KHOTEST: TAP $prog: /"
	awk -v prog="$prog" '
		/^ok [0-9]+ / {
			r = "pass"
			if ($0 ~ /# SKIP/) r = "skip"
			else if ($0 ~ /# XFAIL/) r = "xfail"
			else if ($0 ~ /# XPASS/) r = "xpass"
			print "KHOTEST: RESULT " prog " " $3 " " r
		}
		/^not ok [0-9]+ / { print "KHOTEST: RESULT " prog " " $4 " fail" }
		/^1\.\.[0-9]+/ { sub(/^1\.\./, ""); print "KHOTEST: LOG " prog "_plan=" $1 }
	' "$out"
	khotest_log "${prog}_exit=$rc"
	khotest_log "${prog}_secs=$(( $(date +%s) - start ))"
	return "$rc"
}

khotest_log "stage$KHO_STAGE=$(uname -r)"

# iommufd's hugepage variants map MAP_HUGETLB memory: reserve the pool a
# host running them has (the largest, dirty128M_huge, takes 64 pages).
if [ -n "${KHOTEST_HUGEPAGES:-}" ]; then
	echo "$KHOTEST_HUGEPAGES" > /proc/sys/vm/nr_hugepages
	got=$(cat /proc/sys/vm/nr_hugepages)
	[ "$got" = "$KHOTEST_HUGEPAGES" ] ||
		khotest_fail "reserved $got of $KHOTEST_HUGEPAGES huge pages"
	khotest_log "hugepages=$got"
fi

for prog in ${KHOTEST_SELFTESTS:-}; do
	khotest_mark "run-$prog"
	ksft_run "$prog" || true
done

# luo_stage PROG STAGE: one stage of a two-stage luo_* test; RESULT names
# the stage and the kernel it ran on.
luo_stage() {
	local prog="$1" stage="$2" rc=0 r=fail

	ksft_run "$prog" --stage "$stage" || rc=$?
	case "$rc" in
	0) r=pass ;;
	4) r=skip ;;
	esac
	# Stage 2 must have verified the data, not merely exited 0.
	if [ "$stage" = 2 ] && [ "$r" = pass ] && ! grep -q 'TEST PASSED' "/tmp/$prog.tap"; then
		r=fail
	fi
	echo "KHOTEST: RESULT $prog stage$stage@$(uname -r) $r"
}

if [ -n "${KHOTEST_LUO_TESTS:-}" ]; then
	# shellcheck disable=SC2086 # lists, split on purpose
	set -- $KHOTEST_LUO_KERNELS
	first=$1 other=$2
	# shellcheck disable=SC2086
	set -- $KHOTEST_LUO_TESTS
	ntests=$#
	k=$KHO_STAGE
	# Kexec j (j = 1 .. 2 * ntests) goes from stage j to stage j + 1 and
	# carries test (j + 1) / 2: each test once first -> other, then once
	# other -> first.
	if [ "$k" -gt 1 ]; then
		eval "prog=\${$(( k / 2 ))}"
		luo_stage "$prog" 2
	fi
	if [ "$k" -le $((2 * ntests)) ] && [ -z "$hung_any" ]; then
		eval "prog=\${$(( (k + 1) / 2 ))}"
		luo_stage "$prog" 1
		if [ $((k % 2)) = 1 ]; then next=$other; else next=$first; fi
		khotest_kexec "$next"
	fi
fi

[ -z "$hung_any" ] || khotest_fail "hung:$hung_any"
khotest_done
