# SPDX-License-Identifier: GPL-2.0
# The L2 guest of the nested cpr-transfer tests (110), sourced by
# host-cpr.sh and host-cpr-kexec.sh: its QEMU 11.1 arguments (the payload
# under TCG, RAM in a memfd, auxiliary RAM shareable), where its files go,
# and the helpers that read its heartbeat.
W=/tmp/cpr
mkdir -p "$W"
l2_args="-machine q35,aux-ram-share=on -accel tcg -m 32M
	-object memory-backend-memfd,id=ram0,size=32M,share=on
	-machine memory-backend=ram0 -nodefaults -display none
	-kernel /test/payload.elf"
# hb FILE SED-ADDRESS: the number of that heartbeat line of FILE.
hb() { grep -oE '^hb [0-9]+' "$1" | sed -n "$2" | cut -d' ' -f2; }
# dump [FILE...]: the tail of every output and log of $W, and of FILEs.
dump() {
	for f in "$W"/*.out "$W"/*.log "$@"; do
		[ -f "$f" ] || continue
		echo "--- $f"
		tail -n 30 "$f"
	done
}
# start_new_qemu: in the background, the new QEMU: the same command line
# plus the incoming cpr and main channels ($W/new-cpr.sock, new-main.sock);
# it blocks until its CPR state arrives.  $! is its pid.
start_new_qemu() {
	# shellcheck disable=SC2086 # a word per argument
	qemu-system-x86_64 $l2_args -serial "file:$W/new.log" \
		-qmp "unix:$W/new-qmp.sock,server=on,wait=off" \
		-incoming "{\"channel-type\":\"cpr\",\"addr\":{\"transport\":\"socket\",\"type\":\"unix\",\"path\":\"$W/new-cpr.sock\"}}" \
		-incoming "unix:$W/new-main.sock" > "$W/new.out" 2>&1 &
}
