# SPDX-License-Identifier: GPL-2.0
# The kernel journal and the device API called from inside an iommufd ioctl:
# IOMMU_DESTROY of a mock device (and closing an iommufd holding one) must
# return, and a failed UNMAP that removed an area must be journaled.  Each
# case that may hang runs in a child, so a hang is reported by name.
khotest_log kernel=$(uname -r)
iommufd_journal mock || khotest_fail "kjournal: mock cases failed"
khotest_mark kjournal-mock
khotest_done
