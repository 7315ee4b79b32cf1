# SPDX-License-Identifier: GPL-2.0
# The test VMM's one-shot DMA check: edu copies a pattern from guest RAM
# mapped by VA into its buffer and back to RAM mapped by file, through the
# IOAS and the HWPT the attach created.
out=$(test-vmm dma-check 2>&1) || { echo "$out"; khotest_fail "test-vmm dma-check failed"; }
echo "$out"
echo "$out" | grep -q 'dma-check: ok:' || khotest_fail "test-vmm dma-check printed no verdict"
khotest_mark dma-ok
echo "$out" | grep -q 'unmapped IOVA 0x[0-9a-f]* blocked' ||
	khotest_fail "test-vmm dma-check did not show that an unmapped IOVA is blocked"
khotest_mark unmapped-blocked
khotest_done
