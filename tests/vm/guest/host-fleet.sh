# SPDX-License-Identifier: GPL-2.0
# One host of the fleet of tests/vm/130: the host image under systemd with
# kho-tool's units (distro/systemd, as tests/vm/120 installs them) and the
# test VMM as kho-vmm@edu.service, reachable by SSH on its ttyS1
# (launch.sh --ssh-port, serial-sshd.py) for the Ansible collection
# (ansible/) to drive.  The script does only what the host's own boot
# would: stage 1 starts the units and the VMM; after each kexec (stage 2,
# 3: the stage comes in the --append the playbook gives) it starts
# kho-vmm.target and the VMM's adopt form, as an operator's launcher does.
# The upgrades, the health checks and the rollbacks are Ansible's.  Each
# stage then serves SSH until the test creates /run/khotest-finish.
# khotest.fleet.sick=1: the guests' health command (/test/guest-health.sh)
# fails on this host after its first kexec (the injected failure).
units=/etc/systemd/system
sick=$(khotest_cmdline_value khotest.fleet.sick 0)
s=$KHO_STAGE
journal() {
	journalctl -b -o cat -u "$1" --no-pager
}
journal_has() {
	journal "$1" | grep -q "$2"
}
serve_ssh() {
	mkdir -p /root/.ssh
	chmod 700 /root/.ssh
	cp /test/fleet.pub /root/.ssh/authorized_keys
	# openssh-server's postinst made them; -A only fills a gap.
	ssh-keygen -A >/dev/null
	systemd-run --unit=khotest-ssh --quiet -p StandardOutput=journal+console \
		python3 /test/serial-sshd.py /dev/ttyS1 \
		-o ClientAliveInterval=10 -o ClientAliveCountMax=6 -o PermitRootLogin=prohibit-password ||
		khotest_fail "stage $s: cannot start the SSH relay"
	# A relay that never opens its line would show only as the
	# controller's "banner exchange" timeout, 15 minutes later.
	khotest_wait 120 journal_has khotest-ssh.service 'relaying /dev/ttyS1' ||
		khotest_fail "stage $s: the SSH relay did not open /dev/ttyS1 in 120 s: $(journal khotest-ssh.service | tail -n 3)"
	khotest_mark "ssh-s$s"
	# The test ends the guest through SSH, once the fleet run is over.
	khotest_wait 3500 test -e /run/khotest-finish ||
		khotest_fail "stage $s: nobody ended the fleet run in 3500 s"
	khotest_done
}

case "$s" in
1)
	test -c /dev/liveupdate || khotest_fail "stage 1: no /dev/liveupdate"
	cp /test/kho-handoff.service /test/kho-vmm.target /test/kho-vmm@.service "$units/"
	# The programs live in /opt/kho here, not where the package puts
	# them.  00-: before the drop-in the playbook writes in /run.
	mkdir -p "$units/kho-handoff.service.d" "$units/kho-vmm@.service.d" /etc/kho-tool/vmm
	printf '[Service]\nExecStart=\nExecStart=/opt/kho/bin/restore-agent\n' \
		> "$units/kho-handoff.service.d/00-rig.conf"
	printf '[Service]\nEnvironment=LD_PRELOAD=/opt/kho/lib/libkho-record.so\n' \
		> "$units/kho-vmm@.service.d/00-rig.conf"
	systemctl daemon-reload
	systemctl start kho-handoff.service
	khotest_wait 60 journal_has kho-handoff.service 'new, outgoing one: nothing to restore' ||
		khotest_fail "stage 1: the restore-agent did not see systemd's new session: $(journal kho-handoff.service | tail -n 3)"
	echo 'VMM=/opt/kho/bin/test-vmm serve --maps 64' > /etc/kho-tool/vmm/edu.env
	systemctl start kho-vmm@edu.service
	khotest_wait 90 journal_has kho-vmm@edu.service 'ready pid=' ||
		khotest_fail "stage 1: kho-vmm@edu not ready: $(journal kho-vmm@edu.service | tail -n 5)"
	journal kho-vmm@edu.service | sed 's/^/KHOTEST: LOG s1 vmm: /'
	khotest_mark vmm-serving
	serve_ssh
	;;
*)
	khotest_log "s$s release=$(uname -r) kexec_count=$(systemctl show -p KExecCount --value)"
	# What an operator's boot does: multi-user.target wants kho-vmm.target,
	# and the VMM's launcher starts its adopt form once the agent serves.
	systemctl start kho-vmm.target
	khotest_wait 120 grep -q '^ready' /run/kho-tool/agent.status ||
		khotest_fail "stage $s: the agent is not serving (status '$(cat /run/kho-tool/agent.status 2>/dev/null)'): $(journal kho-handoff.service | tail -n 3)"
	echo 'VMM=/opt/kho/bin/test-vmm restart --hold' > /etc/kho-tool/vmm/edu.env
	systemctl start kho-vmm@edu.service
	khotest_wait 120 journal_has kho-vmm@edu.service 'DMA check passed' ||
		khotest_fail "stage $s: kho-vmm@edu did not adopt: $(journal kho-vmm@edu.service | tail -n 5)"
	journal kho-vmm@edu.service | sed "s/^/KHOTEST: LOG s$s vmm: /"
	khotest_mark "vmm-adopted-s$s"
	if [ "$sick" = 1 ] && [ "$s" = 2 ]; then
		mkdir -p /run/khotest
		echo "injected by tests/vm/130 (khotest.fleet.sick=1)" > /run/khotest/guest-sick
		khotest_log "s$s guest health made to fail"
	fi
	serve_ssh
	;;
esac
