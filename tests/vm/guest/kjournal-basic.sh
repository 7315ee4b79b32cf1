# SPDX-License-Identifier: GPL-2.0
# The kernel journal in one boot of the patched kernel: readout against a
# known ioctl sequence, the IOMMU_JOURNAL_READ length rules, anonymous
# memory flagged, and the LUO handler's preserve/refuse/unpreserve.
khotest_log kernel=$(uname -r)
iommufd_journal basic || khotest_fail "kjournal: basic tests failed"
khotest_mark kjournal-basic
khotest_done
