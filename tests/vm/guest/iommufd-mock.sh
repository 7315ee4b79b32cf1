# SPDX-License-Identifier: GPL-2.0
# iommufd mock domains (CONFIG_IOMMUFD_TEST): devices without hardware,
# their translations checked by the kernel's own IOMMU_TEST_OP_MD_CHECK_MAP.
# KHOTEST_MOCK_DEVICES (from /test/mock.env) sets how many.
. /test/mock.env
test-vmm mock --devices "$KHOTEST_MOCK_DEVICES" || khotest_fail "test-vmm mock --devices $KHOTEST_MOCK_DEVICES failed"
khotest_mark "mock-$KHOTEST_MOCK_DEVICES"
n=$(ls -d /sys/bus/*/devices/iommufd_mock* 2>/dev/null | wc -l)
khotest_log "mock_devices_left=$n"
khotest_done
