#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# A fleet rollout through Ansible (issue #17): the collection ansible/
# (kho.fleet), run by Debian sid's ansible-core in the controller root
# (tests/rig/ansible.sh), drives three L1 hosts: the host image under
# systemd with kho-tool's units and the test VMM as kho-vmm@edu.service
# (tests/vm/guest/host-fleet.sh, as tests/vm/120), each reachable by SSH
# on a 127.0.0.1 port of its own (launch.sh --ssh-port: the rig's kernels
# have no network driver, so the port is a serial line to sshd -i).
# The three boot together; the playbooks run against them; the test then
# ends them through SSH and judges their serial logs and the reports.

load helpers

# fleet_port: a free TCP port on 127.0.0.1 for QEMU to listen on.
fleet_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# fleet_boot HOST APPEND EXPECT...: boot HOST of the fleet in the
# background; its SSH port in $FLEET/HOST.port, launch.sh's output in
# $FLEET/HOST.out, its pid in FLEET_PIDS.
fleet_boot() {
	local host=$1 append=$2 port exp=() m

	shift 2
	for m in "$@"; do
		exp+=(--expect "$m")
	done
	port=$(fleet_port) || die "no free port"
	echo "$port" > "$FLEET/$host.port"
	env KHO_PROC_TAG="$VM_PROC_TAG" "$VM_DIR/launch.sh" --name "$(vm_name "$host")" \
		--exact-marks --host-image systemd --kernel vanilla --timeout 3600 \
		--ssh-port "$port" --script "$GUEST_DIR/host-fleet.sh" \
		--file "$(kernel_image vanilla):/test/vmlinuz-vanilla" \
		--file "$(kernel_image patched):/test/vmlinuz-patched" \
		--file "$FLEET/vmlinux-luo-v9:/test/vmlinux-luo-v9" \
		--file "$KHO_TOP/distro/systemd/kho-handoff.service:/test/kho-handoff.service" \
		--file "$KHO_TOP/distro/systemd/kho-vmm.target:/test/kho-vmm.target" \
		--file "$KHO_TOP/distro/systemd/kho-vmm@.service:/test/kho-vmm@.service" \
		--file "$GUEST_DIR/serial-sshd.py:/test/serial-sshd.py" \
		--file "$GUEST_DIR/guest-health.sh:/test/guest-health.sh" \
		--file "$FLEET/id.pub:/test/fleet.pub" \
		--append "$append" "${exp[@]}" > "$FLEET/$host.out" 2>&1 3>&- &
	FLEET_PIDS+=("$!")
}

# fleet_setup HOST...: a throw-away key, the inventory (HOST order: the
# first is the canary) and ansible.cfg.  HOST_VARS[HOST] adds YAML flow
# mappings of host variables.
fleet_setup() {
	local h

	FLEET=$BATS_TEST_TMPDIR/fleet
	FLEET_PIDS=()
	mkdir -p "$FLEET/reports" "$FLEET/cp" "$KHO_VM_LOGDIR"
	: > "$KHO_VM_LOGDIR/$(vm_name ansible).log"
	ssh-keygen -q -t ed25519 -N '' -C "kho-fleet-$$" -f "$FLEET/id" || die "ssh-keygen"
	bad_vmlinux > /dev/null && cp "$BATS_FILE_TMPDIR/vmlinux-luo-v9" "$FLEET/" || die "no bad vmlinux"
	cat > "$FLEET/ansible.cfg" <<-EOF
	[defaults]
	host_key_checking = False
	forks = 3
	timeout = 60
	[ssh_connection]
	# One connection per host for the whole play (a serial line carries
	# one stream), noticed dead within 60 s of a kexec (not sooner: a TCG
	# guest under load can take that long to answer).
	ssh_args = -o ControlMaster=auto -o ControlPersist=30m -o ServerAliveInterval=10 -o ServerAliveCountMax=6 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
	control_path_dir = $FLEET/cp
	pipelining = True
	retries = 3
	# Files go through the shared connection too (sftp opened another).
	transfer_method = piped
	EOF
	FLEET_VANILLA=$(kernel_release vanilla)
	FLEET_PATCHED=$(kernel_release patched)
	[ -n "$FLEET_VANILLA" ] && [ -n "$FLEET_PATCHED" ] && [ "$FLEET_VANILLA" != "$FLEET_PATCHED" ] ||
		die "vanilla '$FLEET_VANILLA' and patched '$FLEET_PATCHED' releases must differ"
}

# fleet_inventory FILE HOST...: the group kho_fleet, HOSTs in that order.
fleet_inventory() {
	local out=$1 h

	shift
	{
		echo 'kho_fleet:'
		echo '  hosts:'
		for h in "$@"; do
			echo "    $h: {ansible_host: 127.0.0.1, ansible_port: $(cat "$FLEET/$h.port")${HOST_VARS[$h]:+, ${HOST_VARS[$h]}}}"
		done
		cat <<-EOF
		  vars:
		    ansible_user: root
		    ansible_ssh_private_key_file: $FLEET/id
		    ansible_python_interpreter: /usr/bin/python3
		    kho_tool: /opt/kho/bin/kho-tool
		    kho_kernel: /test/vmlinuz-patched
		    kho_append: khotest.stage=2 rw
		    kho_expect_release: $FLEET_PATCHED
		    kho_rollback_kernel: /test/vmlinuz-vanilla
		    kho_rollback_append: khotest.stage=3
		    kho_rollback_expect_release: $FLEET_VANILLA
		    kho_vmms: [edu]
		    kho_rollback_args: [--userspace-journal]
		    kho_health_command: /test/guest-health.sh
		    kho_boot_timeout: 900
		EOF
	} > "$out"
}

# fleet_ansible CMD...: CMD in the controller root with the fleet's
# ansible.cfg; $status and $output as bats' run.
fleet_ansible() {
	local log

	# Kept past the test's temporary directory, for the post-mortem, and
	# written as it comes, each line with its time: a play that stalls
	# is killed with the test, and its log must say at which task.
	log=$KHO_VM_LOGDIR/$(vm_name ansible).log
	echo "### $*" >> "$log"
	run env FLEET_LOG="$log" KHO_PROC_TAG="$VM_PROC_TAG" \
		ANSIBLE_CONFIG="$FLEET/ansible.cfg" bash -c 'set -o pipefail
		"$@" 2>&1 | while IFS= read -r line; do
			printf "%(%T)T %s\n" -1 "$line" >> "$FLEET_LOG"
			printf "%s\n" "$line"
		done' fleet_ansible "$KHO_TOP/tests/rig/ansible.sh" --bind "$FLEET" "$BUILD/ansible" "$@"
	echo "$output"
	echo "### status $status" >> "$log"
}

# fleet_wait_ssh HOST...: until every HOST answers through SSH.
fleet_wait_ssh() {
	fleet_inventory "$FLEET/all.yml" "$@"
	fleet_ansible ansible -i "$FLEET/all.yml" kho_fleet -m ansible.builtin.wait_for_connection \
		-a 'timeout=900 sleep=3 connect_timeout=60'
	[ "$status" -eq 0 ] || die "the fleet did not come up: $output"
}

# fleet_end HOST...: end every HOST through SSH and wait for its launch.sh;
# each must have passed (its --expect marks exactly, no failure).
fleet_end() {
	local h p i=0 bad=""

	fleet_inventory "$FLEET/all.yml" "$@"
	fleet_ansible ansible -i "$FLEET/all.yml" kho_fleet -m ansible.builtin.file \
		-a 'path=/run/khotest-finish state=touch'
	for p in "${FLEET_PIDS[@]}"; do
		wait "$p" || bad="$bad ${FLEET_HOSTS[$i]}"
		i=$((i + 1))
	done
	for h in "${FLEET_HOSTS[@]}"; do
		sed "s/^/$h: /" "$FLEET/$h.out"
	done
	[ -z "$bad" ] || die "hosts failed:$bad"
}

# report FILE EXPR: jq EXPR on a report of $FLEET/reports.
report() {
	jq -r "$2" "$FLEET/reports/$1"
}

# host_log HOST: the serial log of HOST.
host_log() {
	echo "$KHO_VM_LOGDIR/$(vm_name "$1").log"
}

@test "fleet: a canary, then a batch of two: three hosts vanilla -> patched, the VMM's DMA checked on each" {
	declare -A HOST_VARS=()
	FLEET_HOSTS=(h1 h2 h3)
	fleet_setup
	for h in "${FLEET_HOSTS[@]}"; do
		fleet_boot "$h" "" vmm-serving ssh-s1 vmm-adopted-s2 ssh-s2
	done
	fleet_wait_ssh "${FLEET_HOSTS[@]}"
	fleet_inventory "$FLEET/inventory.yml" "${FLEET_HOSTS[@]}"
	start=$(date +%s)
	fleet_ansible ansible-playbook -i "$FLEET/inventory.yml" kho.fleet.rollout \
		-e kho_batch=2 -e "kho_report_dir=$FLEET/reports"
	rollout_rc=$status
	echo "# rollout: $(( $(date +%s) - start )) s" >&3
	fleet_ansible ansible-playbook kho.fleet.report -e "kho_report_dir=$FLEET/reports"
	report_rc=$status
	report_out=$output
	fleet_end "${FLEET_HOSTS[@]}"
	[ "$rollout_rc" -eq 0 ] || die "the rollout failed (status $rollout_rc)"
	[ "$report_rc" -eq 0 ] || die "the report failed (status $report_rc)"
	for h in "${FLEET_HOSTS[@]}"; do
		[ "$(report "$h.json" .result)" = ok ] || die "$h: result $(report "$h.json" .result)"
		[ "$(report "$h.json" .kernel_before)" = "$FLEET_VANILLA" ] || die "$h: kernel before"
		[ "$(report "$h.json" .kernel_after)" = "$FLEET_PATCHED" ] || die "$h: kernel after"
		b=$(report "$h.json" .blackout_s)
		awk -v b="$b" 'BEGIN { exit !(b > 0 && b < 600) }' || die "$h: blackout '$b'"
		[ "$(report "$h.json" '.runs[0].agent.result')" = adopted ] || die "$h: agent"
		[ "$(report "$h.json" '.runs[0].kho_tool.luo_path')" = systemd ] || die "$h: luo_path"
		[ "$(report "$h.json" '.runs[0].preflight.result')" = ok ] || die "$h: pre-flight"
		grep -Eaq 'KHOTEST: LOG s2 vmm: .*bytes intact' "$(host_log "$h")" || die "$h: RAM"
		grep -Eaq 'KHOTEST: LOG s2 vmm: .*DMA check passed' "$(host_log "$h")" || die "$h: DMA"
		grep -Eaq "KHOTEST: LOG s2 release=$FLEET_PATCHED kexec_count=1" "$(host_log "$h")" || die "$h: release"
		echo "# $h: blackout $b s" >&3
	done
	# The canary was healthy before the batch began.
	c=$(report h1.json '.runs[0].finished')
	for h in h2 h3; do
		[ "$(report "$h.json" '.runs[0].started')" -ge "$c" ] ||
			die "$h started before the canary h1 was done"
	done
	grep -Eq "h1 +upgrade +$FLEET_VANILLA +$FLEET_PATCHED +ok +[0-9.]+ s" <<<"$report_out" ||
		die "the table has no ok line for h1"
	[ "$(jq -r '[.hosts[] | select(.result == "ok")] | length' "$FLEET/reports/fleet.json")" = 3 ] ||
		die "fleet.json does not count three successes"
}

@test "fleet: refused at pre-flight stops the rollout untouched; an unhealthy canary is rolled back, its VMM intact, the next wave never starts" {
	declare -A HOST_VARS=([b2]='kho_kernel: /test/vmlinux-luo-v9')
	FLEET_HOSTS=(b1 b2 b3)
	fleet_setup
	fleet_boot b1 khotest.fleet.sick=1 vmm-serving ssh-s1 vmm-adopted-s2 ssh-s2 vmm-adopted-s3 ssh-s3
	fleet_boot b2 "" vmm-serving ssh-s1
	fleet_boot b3 "" vmm-serving ssh-s1
	fleet_wait_ssh "${FLEET_HOSTS[@]}"

	# Run 1: b2, whose target lacks luo-v5, is the canary.
	fleet_inventory "$FLEET/inventory.yml" b2 b1 b3
	fleet_ansible ansible-playbook -i "$FLEET/inventory.yml" kho.fleet.rollout \
		-e kho_batch=2 -e "kho_report_dir=$FLEET/reports"
	refused_rc=$status
	refused_out=$output
	fleet_ansible ansible-playbook kho.fleet.report -e "kho_report_dir=$FLEET/reports"
	cp -r "$FLEET/reports" "$FLEET/reports-refused"
	ls "$FLEET/reports"
	refused_hosts=$(ls "$FLEET/reports" | grep -v '^fleet' | paste -sd' ')
	rm -f "$FLEET/reports"/*

	# Run 2: b1, unhealthy after its kexec, is the canary.
	fleet_inventory "$FLEET/inventory.yml" b1 b2 b3
	start=$(date +%s)
	fleet_ansible ansible-playbook -i "$FLEET/inventory.yml" kho.fleet.rollout \
		-e kho_batch=2 -e "kho_report_dir=$FLEET/reports"
	sick_rc=$status
	sick_out=$output
	echo "# rollout with the rollback: $(( $(date +%s) - start )) s" >&3
	fleet_ansible ansible-playbook kho.fleet.report -e "kho_report_dir=$FLEET/reports"
	report_out=$output
	fleet_end "${FLEET_HOSTS[@]}"

	[ "$refused_rc" -ne 0 ] || die "run 1 passed with a refused canary"
	[ "$refused_hosts" = b2.json ] || die "run 1 went past the canary: reports $refused_hosts"
	r=$FLEET/reports-refused/b2.json
	[ "$(jq -r .result "$r")" = refused ] || die "b2: $(jq -r .result "$r")"
	[ "$(jq -r .step "$r")" = preflight ] || die "b2: step $(jq -r .step "$r")"
	jq -r .reason "$r" | grep -q 'preflight-target: .*needs LUO ABI luo-v5, the image carries luo-v9' ||
		die "b2: reason $(jq -r .reason "$r")"
	[ "$(jq -r .kernel_after "$r")" = "$FLEET_VANILLA" ] || die "b2 left vanilla"
	grep -q 'NO MORE HOSTS LEFT\|b2 .*failed=1' <<<"$refused_out" || die "run 1: b2 not failed"

	[ "$sick_rc" -ne 0 ] || die "run 2 passed with an unhealthy canary"
	[ "$(ls "$FLEET/reports" | grep -v '^fleet' | paste -sd' ')" = b1.json ] ||
		die "run 2 went past the canary"
	[ "$(report b1.json .result)" = rolled-back ] || die "b1: $(report b1.json .result)"
	[ "$(report b1.json .step)" = health ] || die "b1: step $(report b1.json .step)"
	report b1.json .reason | grep -q 'the edu guest is unhealthy' || die "b1: reason"
	[ "$(report b1.json '.runs[0].kernel_after')" = "$FLEET_PATCHED" ] || die "b1 did not reach patched"
	[ "$(report b1.json '.runs[1].command')" = rollback ] || die "b1: no rollback run"
	[ "$(report b1.json '.runs[1].result')" = ok ] || die "b1: rollback $(report b1.json '.runs[1].result')"
	[ "$(report b1.json .kernel_after)" = "$FLEET_VANILLA" ] || die "b1 is not back on vanilla"
	[ "$(report b1.json '.runs[1].agent.result')" = adopted ] || die "b1: no adoption after the rollback"
	log=$(host_log b1)
	grep -Eaq 'KHOTEST: LOG s3 vmm: .*bytes intact' "$log" || die "b1: RAM after the rollback"
	grep -Eaq 'KHOTEST: LOG s3 vmm: .*DMA check passed' "$log" || die "b1: DMA after the rollback"
	grep -Eaq "KHOTEST: LOG s3 release=$FLEET_VANILLA kexec_count=2" "$log" || die "b1: release after the rollback"
	grep -Eq "b1 +upgrade +$FLEET_VANILLA +$FLEET_VANILLA +rolled-back +[0-9.]+ s +health: .*unhealthy" <<<"$report_out" ||
		die "the table does not name b1, the step and the cause"
}
