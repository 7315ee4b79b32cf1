build/bin/iommufd_journal: tests/kselftest/iommufd_journal.c \
 include/uapi-7.2/linux/iommufd.h include/uapi-7.2/linux/liveupdate.h \
 include/uapi-7.2/linux/vfio.h \
 include/kho-patched/linux/iommufd_journal.h
include/uapi-7.2/linux/iommufd.h:
include/uapi-7.2/linux/liveupdate.h:
include/uapi-7.2/linux/vfio.h:
include/kho-patched/linux/iommufd_journal.h:
