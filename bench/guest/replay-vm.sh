# SPDX-License-Identifier: GPL-2.0
# Guest side of bench/replay-vm.sh: one guest run, len(SIZES)+2 boots
# chained by kexec (the hook off, kho_agent=off).  Boot k stages SIZES[k]
# (test-vmm stage) for the agent of boot k+1, whose guest-RAM memfd is
# then preserved again, with the hand-off, for the bare restore of boot
# k+2 (a LUO session is retrieved once per boot).  With the default sizes:
#
#   boot 1: stage 1
#   boot 2: agent 1,                 stage 64
#   boot 3: bare 1,   agent 64,      stage 4096
#   boot 4: bare 64,  agent 4096,    stage 65536
#   boot 5: bare 4096, agent 65536,  stage 1x<big>
#   boot 6: bare 65536, agent 1x<big>
#   boot 7: bare 1x<big>
#
# A size is MAPS (mappings of 16 KiB) or MAPSxBYTES (mappings of BYTES):
# bench/replay-vm.sh passes the one memfd "as large as the guest allows"
# as 1xBYTES.  The size's string is its label in the markers and logs.
#
# In each boot, in this order:
#  - cold: the bare ioctls once on a fresh memfd (test-vmm stage --raw),
#    at the largest size measured in this boot: the device's first open,
#    bind and attach after boot cost more, whoever does them; this takes
#    it, so that everything after is warm;
#  - bare-restore first-open: the first open of /dev/liveupdate
#    deserializes both incoming sessions, which neither side should pay
#    for the other; timed apart;
#  - bare: bare-restore retrieves its session and memfd with the raw LUO
#    ioctls and issues the same ioctls bare, once, timed end to end; then
#    repeats the ioctls warm on the same memfd (a sanity figure: the same
#    as replay-loop's raw median one boot earlier, if boots compare);
#  - agent: the restore-agent's one real restore ("restored in");
#  - replay-loop (bench/guest/replay-loop.c) adopts like a VMM and
#    alternates, ROUNDS times, the agent's replay + verify and the same
#    ioctls issued bare, on the same retrieved memfd and the same warm
#    device, prints medians, and preserves that memfd and the hand-off in
#    session "kho-bench-bare" for the next boot's bare side.
#
# The guest has one CPU: anything this script runs while the agent
# restores is charged to the agent, so it waits for it with
# khotest_agent_ready (tests/vm/guest/lib.sh), shell builtins only.
#
# bench/replay-vm.sh prepends "rounds=N" to this script.

# bench/replay-vm.sh prepends "rounds=N sizes=...".
sizes=${sizes:-1 64 4096}
run=/run/kho-tool

# nth K: the K-th size, or nothing past either end.
nth() {
	[ "$1" -ge 1 ] || return 0
	# awk, not cut: cut prints a line without its delimiter (one size)
	# whole, for every K, and the chain would never end.
	echo $sizes | awk -v k="$1" '{ print $k }'
}
# maps_of SIZE, chunk_of SIZE
maps_of() { echo "${1%%x*}"; }
chunk_of() { case "$1" in *x*) echo "${1#*x}" ;; *) echo 16384 ;; esac; }
# KHO_BENCH_SHMEM_THP: large folios for the memfds this boot creates.
if [ -n "${thp:-}" ]; then
	echo "$thp" > /sys/kernel/mm/transparent_hugepage/shmem_enabled ||
		khotest_fail "shmem THP: cannot set '$thp'"
	echo "replay-vm: shmem THP $(cat /sys/kernel/mm/transparent_hugepage/shmem_enabled)"
fi
stage_n=$(nth "$KHO_STAGE")
agent_n=$(nth $((KHO_STAGE - 1)))
bare_n=$(nth $((KHO_STAGE - 2)))

if [ -n "$agent_n$bare_n" ]; then
	n=${agent_n:-$bare_n}
	# The cold loop only warms the device: its memfd is a fresh one beside
	# the agent's and the bare side's, so it is capped at 256 MiB (the
	# chunk shrinks, not the count of mappings) to leave the guest room.
	cm=$(maps_of "$n")
	cc=$(chunk_of "$n")
	[ $((cm * cc)) -le 268435456 ] || cc=$(( (268435456 / cm) / 4096 * 4096 ))
	[ "$cc" -ge 4096 ] || cc=4096
	cfill=
	[ $((cm * cc)) -le 67108864 ] || cfill=--fill-head
	cold=$(test-vmm stage --raw --maps "$cm" --chunk "$cc" $cfill) ||
		khotest_fail "bench: boot $KHO_STAGE: cold raw loop failed"
	echo "cold $cold"
	coldms=$(echo "$cold" | sed -n 's/.*maps-first \([0-9.]*\) ms.*/\1/p')
	first_open=$(bare-restore first-open) ||
		khotest_fail "bench: boot $KHO_STAGE: first open of /dev/liveupdate failed"
fi

if [ -n "$bare_n" ]; then
	bare-restore restore "${rounds:-7}" >/tmp/bare.out 2>&1 ||
		khotest_fail "bench: $bare_n maps: bare-restore: $(cat /tmp/bare.out)"
	cat /tmp/bare.out
	bare=$(grep -E '^bare-(total|warm) ' /tmp/bare.out | tr '\n' ' ')
	khotest_log "bare-$bare_n=$bare bare-${first_open#luo-}"
	khotest_mark "bare-measured-$bare_n"
fi

if [ -n "$agent_n" ]; then
	n=$agent_n
	khotest_agent_ready
	khotest_agent_restored "bench: $n maps"
	agent=$agent_ms
	# A step missing from the log must fail on the host, not read as 0.
	step_ms() {
		v=$(sed -n "s/.*step $1 *\([0-9.]*\) ms.*/\1/p" $run/restore.log | tail -n 1)
		echo "${v:-missing}"
	}
	parts="session $(step_ms session) handoff $(step_ms hand-off) decode $(step_ms decode) memfds $(step_ms memfds) agent-replay $(step_ms replay) agent-verify $(step_ms verify)"
	rmaps=$(sed -n 's/.*step replay .* maps in \([0-9.]*\) ms.*/\1/p' $run/restore.log | tail -n 1)
	rbind=$(sed -n 's/.*step replay .*open+bind \([0-9.]*\) ms.*/\1/p' $run/restore.log | tail -n 1)
	ratt=$(sed -n 's/.*step replay .*, attach \([0-9.]*\) ms.*/\1/p' $run/restore.log | tail -n 1)
	# Its child holds the bare session until the kexec.
	replay-loop "${rounds:-7}" --wait-pid "$agent_pid" --preserve-for-bare \
		>/tmp/loop.out 2>&1 ||
		khotest_fail "bench: $n maps: replay-loop: $(cat /tmp/loop.out)"
	cat /tmp/loop.out
	loop=$(sed -n 's/^replay-loop: medians //p' /tmp/loop.out)
	raw_split() { echo "$1" | sed -n 's/.*(maps \([0-9.]*\), open+bind \([0-9.]*\), attach \([0-9.]*\)).*/\1 \2 \3/p'; }
	coldparts=$(raw_split "$cold")
	khotest_log "replay-$n=agent $agent $parts agentsplit $rmaps $rbind $ratt cold $coldms coldsplit $coldparts $loop $first_open"
	khotest_mark "measured-$n"
fi

if [ -n "$stage_n" ]; then
	n=$stage_n
	# Past 64 MiB only the first MiB carries the pattern (--fill-head):
	# nothing in this bench reads the rest, and TCG fills a GiB for minutes.
	fill=
	[ $(($(maps_of "$n") * $(chunk_of "$n"))) -le 67108864 ] || fill=--fill-head
	khotest_stage --maps "$(maps_of "$n")" --chunk "$(chunk_of "$n")" $fill
	# How much of the shmem sits in large folios (KHO_BENCH_SHMEM_THP).
	echo "replay-vm: stage $n: $(grep -E '^(Shmem|ShmemHugePages):' /proc/meminfo | tr -s ' \n' ' ')"
fi
# The bare side of the last agent still needs its boot.
[ -z "$agent_n$stage_n" ] || khotest_kexec vanilla kho_agent=off
khotest_done
