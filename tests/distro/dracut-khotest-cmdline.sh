#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# dracut cmdline hook of the test-only 99khotest module: rd.khotest is the root.
if getargbool 0 rd.khotest; then
	root=khotest
	rootok=1
fi
