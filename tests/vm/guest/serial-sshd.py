#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
# SSH on a serial line, for the L1 host guests of tests/vm/130: the rig's
# kernels have no network driver, so launch.sh --ssh-port puts QEMU's
# 127.0.0.1:PORT behind a second 16550, and this relays that line (ttyS1)
# to `sshd -i`, one connection at a time.  A serial line has no hang-up:
# the sshd of a client that went away never sees an end of file, so a new
# client's "SSH-2.0-" banner ends it (inside a session the stream is
# ciphertext: 8 given bytes there are a 2^-64 chance), and whatever came
# before the banner is dropped.  sshd is started only when a banner
# arrives, so that its own banner reaches the client that reads it.
#
# usage: serial-sshd.py TTY [SSHD-OPTION]...
import os
import select
import subprocess
import sys
import termios
import tty

BANNER = b"SSH-2.0-"


def open_line(path):
	"""The line, raw, without waiting: neither for a carrier on open nor
	for output to drain (tty.setraw's TCSAFLUSH), since after a kexec the
	UART may still hold what the old kernel's relay sent."""
	fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
	tty.setraw(fd, termios.TCSANOW)
	attrs = termios.tcgetattr(fd)
	# No modem lines behind QEMU's chardev, no flow control in the stream.
	attrs[2] = (attrs[2] & ~termios.CRTSCTS) | termios.CLOCAL | termios.CREAD
	attrs[0] &= ~(termios.IXON | termios.IXOFF | termios.IXANY)
	attrs[4] = attrs[5] = termios.B115200
	termios.tcsetattr(fd, termios.TCSANOW, attrs)
	termios.tcflush(fd, termios.TCIOFLUSH)
	os.set_blocking(fd, True)
	return fd


def write_all(fd, data):
	while data:
		n = os.write(fd, data)
		data = data[n:]


def wait_banner(fd):
	"""The bytes from a client's banner on; what came before is stale."""
	buf = b""
	while True:
		buf += os.read(fd, 4096)
		i = buf.find(BANNER)
		if i >= 0:
			return buf[i:]
		buf = buf[-len(BANNER):]


def serve(fd, first, opts):
	"""One sshd -i; returns the next client's first bytes, or b"" once
	sshd exited by itself."""
	sshd = subprocess.Popen(["/usr/sbin/sshd", "-i", "-e"] + opts,
				stdin=subprocess.PIPE, stdout=subprocess.PIPE,
				bufsize=0)
	out = sshd.stdout.fileno()
	inp = sshd.stdin.fileno()
	nxt = b""
	tail = b""
	try:
		write_all(inp, first)
		while True:
			r, _, _ = select.select([fd, out], [], [])
			if out in r:
				data = os.read(out, 65536)
				if not data:
					break
				write_all(fd, data)
			if fd in r:
				data = os.read(fd, 65536)
				seen = tail + data
				i = seen.find(BANNER)
				if i >= 0:
					nxt = seen[i:]
					break
				tail = seen[-(len(BANNER) - 1):]
				write_all(inp, data)
	except BrokenPipeError:
		pass
	if nxt:
		sshd.terminate()
	sshd.stdin.close()
	sshd.stdout.close()
	rc = sshd.wait()
	print(f"serial-sshd: connection closed (sshd status {rc}){', a new client' if nxt else ''}", flush=True)
	return nxt


def main():
	if len(sys.argv) < 2:
		sys.exit("usage: serial-sshd.py TTY [SSHD-OPTION]...")
	path, opts = sys.argv[1], sys.argv[2:]
	os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
	fd = open_line(path)
	print(f"serial-sshd: relaying {path} to sshd -i", flush=True)
	first = b""
	while True:
		first = first or wait_banner(fd)
		first = serve(fd, first, opts)


if __name__ == "__main__":
	main()
