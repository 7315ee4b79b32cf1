build/obj/lib/kjournal.o: lib/kjournal.c \
 lib/../include/kho-patched/linux/iommufd_journal.h \
 include/uapi-7.2/linux/iommufd.h lib/journal.h lib/kho.h lib/kjournal.h
lib/../include/kho-patched/linux/iommufd_journal.h:
include/uapi-7.2/linux/iommufd.h:
lib/journal.h:
lib/kho.h:
lib/kjournal.h:
