# SPDX-License-Identifier: GPL-2.0
# The checks of kjournal-debug-lib.sh can fail: a slab out-of-bounds write
# provoked through LKDTM must be caught as a KASAN report, and the leak
# filter must pick a report through the journal's allocator out of others.
. /test/kjournal-debug-lib.sh
kdebug_arm
kdebug_check || khotest_fail "kdebug: not clean before the provoked bug: $KDEBUG_WHY"
khotest_mark kdebug-clean-before

cat > /tmp/leak-ours.txt <<'REPORT'
unreferenced object 0xffff888004a1c000 (size 64):
  comm "iommufd_journal", pid 71, jiffies 4294893000
  hex dump (first 32 bytes):
    0b 00 00 00 20 00 00 00 00 00 00 00 00 00 00 00  .... ...........
  backtrace (crc 5c2b1e0d):
    kmemleak_alloc+0x4a/0x90
    __kmalloc_noprof+0x2f1/0x4a0
    jrec_alloc+0x31/0x90
    iommufd_journal_begin+0x1d2/0x3c0
    iommufd_fops_ioctl+0x1f4/0x2c0
unreferenced object 0xffff888004a1d000 (size 32):
  comm "iommufd_journal", pid 71, jiffies 4294893000
  backtrace (crc 11aa22bb):
    kmemleak_alloc+0x4a/0x90
    acpi_ut_allocate_object_desc_dbg+0x4e/0xa0
REPORT
[ "$(kdebug_leaks_ours /tmp/leak-ours.txt)" = 1 ] ||
	khotest_fail "kdebug: the leak filter counted $(kdebug_leaks_ours /tmp/leak-ours.txt) of 1 journal leak"
khotest_mark kdebug-leak-filter

echo SLAB_LINEAR_OVERFLOW > /sys/kernel/debug/provoke-crash/DIRECT || true
if kdebug_check; then
	khotest_fail "kdebug: the provoked slab out-of-bounds write went unnoticed"
fi
khotest_log caught="$KDEBUG_WHY"
case "$KDEBUG_WHY" in
"KASAN: BUG: KASAN: slab-out-of-bounds in lkdtm_SLAB_LINEAR_OVERFLOW"*) ;;
*) khotest_fail "kdebug: caught the wrong thing: $KDEBUG_WHY" ;;
esac
khotest_mark kdebug-caught-kasan
khotest_done
